"""The `bnnforge` command-line program: one subcommand per user task."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from bnnforge import __version__
from bnnforge.errors import EXIT_INTERNAL, BnnforgeError, UserError
from bnnforge.finn_flow import BACKENDS, FIFO_SIZINGS, FOLD_OBJECTIVES, LAB_IMPLS, STAGES, registry
from bnnforge.model import ARCHS, BINARIZERS, BN_RECALIBRATION_IMAGES, CROP_PAD, DATASETS, DEVICES

EXIT_CODES_HELP = """exit codes:
  0   done
  1   a check failed (outputs differ, a design deadlocked): the message names image, layer or streams
  2   bad input or usage: the message names the file, option, node or attribute
  3   the step needs Vivado (or Vitis HLS), which is not installed
  70  internal error (a bnnforge bug): the traceback is written to a file whose path is printed"""


def integer_at_least(lo: int):
    """argparse type: an integer >= lo (a count, a size), named in the error when it is not."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"{value} must be at least {lo}")
        return value

    parse.__name__ = f"integer >= {lo}"
    return parse


def positive_number(text: str) -> float:
    """argparse type: a finite number > 0 (a frame rate, a clock period)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite number > 0")
    return value


COUNT = integer_at_least(1)  # images, samples, epochs, batch size, ...


def cmd_doctor(args: argparse.Namespace) -> int:
    from bnnforge import doctor

    return doctor.main(as_json=args.json)


def _launch_torchrun(nproc: int) -> int:
    """`bnnforge train --nproc N ...` = `torchrun --standalone --nproc-per-node N -m bnnforge.cli train ...`."""
    import subprocess

    argv, rest = sys.argv[1:], []
    skip = False
    for i, a in enumerate(argv):  # the same command line without --nproc
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        rest.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "bnnforge.cli", *rest]
    print(f"launching {nproc} processes: torchrun --standalone --nproc-per-node={nproc} -m bnnforge.cli "
          + " ".join(rest), flush=True)
    return subprocess.run(cmd).returncode


def cmd_train(args: argparse.Namespace) -> int:
    from bnnforge.model import distributed
    from bnnforge.model import run as runlib
    from bnnforge.model.data import load_dataset
    from bnnforge.model.train import model_config_for, train

    if args.nproc < 1:
        raise UserError(f"--nproc must be >= 1, got {args.nproc}")
    if args.nproc > 1 and not distributed.launched_by_torchrun():
        return _launch_torchrun(args.nproc)
    main_process = os.environ.get("RANK", "0") == "0"
    out = Path(args.out)
    resume = args.resume or _unfinished(out, runlib)
    if (out / runlib.CHECKPOINT).exists() and not resume:
        raise UserError(f"{out} already holds a trained run; pass --resume to continue it or choose another --out")
    dataset = load_dataset(args.dataset, args.data_dir, args.image_size, args.channels)
    model_cfg = model_config_for(
        dataset,
        arch=args.arch,
        binarizer=args.binarizer,
        width=args.width,
        blocks=args.blocks,
        lab_kernel=args.lab_kernel,
        act_bits=args.act_bits,
        weight_bits=args.weight_bits,
        hidden_bits=args.hidden_bits,
        reduction=args.reduction,
    )
    train_cfg = runlib.TrainConfig(
        dataset=args.dataset,
        epochs=args.epochs,
        subset=args.subset,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        data_dir=args.data_dir,
        device=args.device,
        augment=args.augment,
        crop_pad=args.crop_pad,
        image_size=args.image_size,
        channels=args.channels,
        workers=args.workers,
        bn_recalibration_images=args.bn_recalibration_images,
    )
    if main_process:
        world = os.environ.get("WORLD_SIZE", "1")
        print(f"training {args.arch}/{args.binarizer} on {args.dataset} "
              f"({len(dataset.subset(args.subset, args.seed).x_train)} images"
              f"{f', {world} processes' if world != '1' else ''}) -> {out}")
    if resume and not args.resume and main_process:
        print(f"{out} holds an unfinished run (interrupted): resuming it (the options must be the same)")
    metrics = train(out, model_cfg, train_cfg, dataset=dataset, resume=resume, progress=not args.quiet,
                    stop_after_epoch=args.stop_after_epoch)
    if main_process:
        print(f"test accuracy {metrics['test_accuracy']:.4f}; wrote {out}/config.json, checkpoint.pt, metrics.json")
    return 0


def _unfinished(out: Path, runlib) -> bool:
    """A run folder with a checkpoint whose own schedule has not ended (an interrupted `train`:
    the same command again continues it instead of refusing)."""
    if not (out / runlib.CHECKPOINT).exists():
        return False
    metrics = out / runlib.METRICS
    try:
        _, saved = runlib.load_config(out)
        return not metrics.exists() or int(json.loads(metrics.read_text()).get("epochs", 0)) < saved.epochs
    except (runlib.RunError, ValueError, TypeError, AttributeError):
        return False  # a folder we cannot read: do not guess, refuse below


def cmd_export(args: argparse.Namespace) -> int:
    from bnnforge.model.export import export_run

    onnx_path, vectors = export_run(Path(args.run_dir), args.out, args.vectors)
    print(f"wrote {onnx_path} (QONNX) and {vectors} (test vectors)")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    target = Path(args.run_dir)
    if target.suffix == ".onnx" or target.is_file():
        from bnnforge.finn_flow.verify.model import MODEL_COLUMNS, verify_model

        columns = MODEL_COLUMNS if args.columns is None else args.columns
        report = verify_model(target, Path(args.input) if args.input else None, args.samples, columns)
        print(report.table())
        return 0 if report.ok else 1
    if args.input:
        raise UserError("--input applies to a model file (bnnforge verify MODEL.onnx); a run is checked on its "
                        "dataset's test images")

    from bnnforge.model.verify import verify_run

    from bnnforge.finn_flow.verify.run_columns import COLUMNS

    args.columns = list(COLUMNS) if args.columns is None else args.columns
    unknown = set(args.columns) - set(COLUMNS)
    if unknown:
        raise UserError(f"unknown column(s) {sorted(unknown)}; allowed: {', '.join(COLUMNS)}")
    report = verify_run(Path(args.run_dir), args.samples, {c: COLUMNS[c] for c in args.columns})
    print(report.table())
    return 0 if report.ok else 1


def cmd_build(args: argparse.Namespace) -> int:
    from bnnforge.boards import load_board
    from bnnforge.finn_flow.flow.build import BuildOptions, build
    from bnnforge.finn_flow.flow.layout import BuildLayout
    from bnnforge.finn_flow.flow.report import summarize_build
    from bnnforge.finn_flow.rtl.synth import timing_verdict

    board = load_board(args.board)
    opts = BuildOptions(
        model=Path(args.model),
        board=board,
        out=Path(args.out),
        target_fps=args.target_fps,
        folding=Path(args.folding) if args.folding else None,
        partial_folding=args.partial_folding,
        clock_ns=args.clock_ns,
        until=args.until,
        lab_impl=args.lab_impl,
        backend=args.backend,
        fifo_sizing=args.fifo_sizing,
        timing=not args.no_timing,
        from_step=args.from_step,
        vectors=Path(args.vectors) if args.vectors else None,
    )
    print(f"building {opts.model} for {board.name} ({board.part}, {opts.clock} ns) -> {opts.out}")
    result = build(opts)
    summary = summarize_build(opts.out, board, opts.clock)
    if summary is not None:
        print(summary.table())
    timing = BuildLayout(opts.out).timing_estimate
    if timing.exists():
        print(timing_verdict(json.loads(timing.read_text())))
    print(f"applied folding: {opts.out / 'folding.json'}")
    print(result.message)
    return result.exit_code


def cmd_sim_layer(args: argparse.Namespace) -> int:
    import numpy as np

    from bnnforge.finn_flow.simulate.layer import load_input, run_layer

    x = load_input(Path(args.input))
    run = run_layer(args.layer, args.backend, Path(args.params), x, pe=args.pe, stall=args.stall, waves=args.waves)
    np.save(args.output, run.outputs[0])
    print(f"wrote {args.output} ({run.outputs[0].shape[0]} frames, int8 +-1, NCHW)")
    return _report_layer_run(run)


def cmd_sim_node(args: argparse.Namespace) -> int:
    from bnnforge.finn_flow.simulate.layer import run_node

    run = run_node(Path(args.build_dir), args.node, args.images, args.stall, args.waves)
    print(f"{args.node}: {run.source}, on its generated code")
    return _report_layer_run(run)


def cmd_sim_driver(args: argparse.Namespace) -> int:
    from bnnforge.finn_flow.deploy.offboard import check_driver, run_validate

    if args.validate:
        return run_validate(Path(args.build_dir), args.images, stall=args.stall, mem_latency=args.mem_latency)
    r = check_driver(Path(args.build_dir), Path(args.run) if args.run else None,
                     Path(args.input) if args.input else None, args.images, args.stall, args.mem_latency)
    if args.json:
        Path(args.json).write_text(json.dumps(r.to_json(), indent=2) + "\n")
    print(f"{args.build_dir}/deploy/driver.py against the simulated system of {args.build_dir}/rtl/ (DMA engines, "
          f"accelerator, DDR with {args.mem_latency} cycles latency, write stalls {args.stall}): {r.reference}")
    print(f"  cycles/frame     {r.cycles_per_frame:,.1f} (input DMA start to output DMA done, DMAs included)")
    print(f"  throughput       {r.fps:,.0f} fps at the build's clock")
    if r.steady_cycles_per_frame:
        print(f"  steady state     {r.steady_cycles_per_frame:,.1f} cycles/frame, {r.steady_fps:,.0f} fps (without "
              f"the pipeline fill: one image alone takes {r.latency_cycles:,} cycles)")
    print(f"  top-1 agrees with the reference on {r.labels_agree}/{r.images} images")
    if r.mismatches:
        print(f"MISMATCH: the decoded outputs of {r.mismatches} of {r.images} images differ; first: image "
              f"{r.first_mismatch}")
        return 1
    print(f"driver bit-exact: {r.images} images packed, moved by the DMAs, computed and decoded, every output "
          "equal to the reference")
    return 0


def cmd_sim_network(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from bnnforge.finn_flow.rtl import network as netsim

    with tqdm(total=args.images, unit="image", desc="sim network", disable=args.quiet) as bar:
        report = netsim.run_network(Path(args.build_dir), Path(args.run) if args.run else None,
                                    Path(args.input) if args.input else None, args.images, args.stall, args.waves,
                                    progress=bar.update)
    if args.output:
        np.save(args.output, report.outputs.astype(np.int64))
        print(f"wrote {args.output} ({report.outputs.shape[0]} x {report.outputs.shape[1]} integers)")
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=2) + "\n")
    cpf = f"{report.cycles_per_frame:,.1f}" if report.cycles_per_frame else "- (one image)"
    est = report.estimated_cycles_per_frame
    ratio = f" ({report.cycles_per_frame / est:.3f}x FINN's estimate of {est:,})" if est and report.cycles_per_frame else ""
    print(f"{report.source} through {args.build_dir}/rtl/ (Verilator, output stalls {args.stall})")
    print(f"  cycles/frame     {cpf}{ratio}")
    print(f"  latency          {report.latency_cycles:,} cycles (first input beat to last output beat of image 0)")
    if report.fps:
        print(f"  throughput       {report.fps:,.0f} fps at the build's clock")
    print(f"  simulation       {report.sim_frames_per_s:,.1f} frames/s")
    print(f"  top-1 agrees with the reference on {report.labels_agree}/{report.images} images")
    if report.mismatches:
        print(f"MISMATCH: {report.mismatches} of {report.images} images differ; first: image {report.first_mismatch}")
        print(f"  first divergent layer: {report.divergence or 'none found in the taps (output packing?)'}")
        return 1
    print(f"bit-exact: {report.images} images, every output equal to the reference")
    return 0


def cmd_sim_synth(args: argparse.Namespace) -> int:
    from bnnforge.finn_flow.rtl import synth

    if args.network:
        from bnnforge.boards import load_board
        from bnnforge.finn_flow.flow.layout import BuildLayout

        cfg = BuildLayout(args.network).read_config()
        if not cfg:
            raise UserError(f"{args.network} is not a build folder (no build_config.json)")
        board = load_board(cfg["board"])
        from tqdm import tqdm

        with tqdm(desc="sim synth", unit="layer", disable=not sys.stderr.isatty()) as bar:
            result = synth.synth_network(Path(args.network), board, args.family, jobs=args.jobs,
                                         progress=lambda _: bar.update())
        if args.json == "-":  # `--json` alone: the JSON on stdout, nothing else
            print(json.dumps(result.to_json(), indent=2))
            return 0
        if args.json:
            Path(args.json).write_text(json.dumps(result.to_json(), indent=2) + "\n")
        print(f"yosys synth_xilinx -family {result.family} of {args.network}/rtl/, every layer out of context "
              "(pre place-and-route; LUT includes INV cells; timing: estimated, docs/DESIGN.md):")
        print(result.table(board.name, cfg.get("clock_ns")))
        return 0
    if args.node:
        from bnnforge.finn_flow.simulate import reference

        build_dir, node_name = args.node
        model, _ = reference.latest_model(Path(build_dir), "codegen")
        node = next((n for n in model.graph.node if n.name == node_name), None)
        if node is None:
            raise UserError(f"{node_name!r} is not a node of {build_dir}; nodes: "
                            f"{', '.join(n.name for n in model.graph.node)}")
        what = f"{node_name} of {build_dir}"
        counts = synth.synth_node_of(model, node, args.family or "xc7")
    else:
        if not args.layer or not args.params:
            raise UserError("give a LAYER with --params, or --node BUILD_DIR NODE")
        p = synth.params_for_cli(args.layer, Path(args.params), tuple(args.hw), args.pe)
        what = f"{args.layer}, {args.hw[0]}x{args.hw[1]}, PE={args.pe}"
        counts = synth.synth_params(p, args.family or "xc7")
    if args.json:
        print(json.dumps({**counts.row(), "cells": counts.cells}, indent=2))
        return 0
    print(f"yosys synth_xilinx -family {args.family or 'xc7'} ({what}; pre place-and-route):")
    for k, v in counts.row().items():
        print(f"  {k:<7} {v}")
    print("cells: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.cells.items())))
    return 0


def cmd_fold(args: argparse.Namespace) -> int:
    import time

    from bnnforge.boards import load_board
    from bnnforge.finn_flow.flow.graph_cache import prepared_graph
    from bnnforge.finn_flow.folding import optimizer, plumbing
    from bnnforge.finn_flow.folding import report as fold_report

    t0 = time.time()
    board = load_board(args.board)
    clock = args.clock_ns or board.clock_ns
    if not 0 < args.util <= 1:
        raise UserError(f"--util {args.util}: allowed (0, 1]")
    model = prepared_graph(Path(args.model), board, clock, args.lab_impl, args.backend)
    groups = optimizer.build_groups(model, board.part)
    if args.max_fps:
        def choose(util):
            return optimizer.maximize(groups, board, clock, util)
    else:
        if args.target_fps <= 0:
            raise UserError(f"--target-fps must be positive, got {args.target_fps}")

        def choose(util):
            return optimizer.for_target(groups, board, clock, args.target_fps, util, args.objective)
    result = optimizer.with_plumbing(choose, lambda f: plumbing.estimate(model, f.config(), board.part), board,
                                     args.util)
    timing, notes = None, []
    if args.timing or args.raise_clock:
        timing, notes, result = _fold_timing(args, model, result, board)
    out = Path(args.out)
    out.write_text(json.dumps(result.config(), indent=2) + "\n")
    if args.plot:
        fold_report.plot(optimizer.pareto_front(groups, board, clock, objective=args.objective), result, board,
                         Path(args.plot))
    if args.json:
        print(json.dumps({
            "folding": str(out), "fps": result.fps, "cycles": result.cycles, "LUT": result.lut,
            "BRAM_18K": result.bram, "clock_ns": result.clock_ns, "board": board.name,
            "budget": {"LUT": board.resources["LUT"], "BRAM_18K": board.bram18},
            "layers": [{"node": n, "cycles": c, "LUT": lut, "BRAM_18K": b}
                       for opt in result.choice for n, c, lut, b in opt.per_node],
            # the width converters and FIFOs this folding brings (FIFOs at their starting depth)
            "plumbing": [{"node": n, "op": op, "LUT": lut, "BRAM_18K": b} for n, op, lut, b in result.plumbing.nodes],
            "total": {"LUT": result.total_lut, "BRAM_18K": result.total_bram},
            "timing": timing, "notes": notes,
        }, indent=2))
        return 0
    print(fold_report.table(result, groups, board, model))
    for line in notes:
        print(line)
    print(f"wrote {out}" + (f" and {args.plot}" if args.plot else "") + f" ({time.time() - t0:.1f} s)")
    return 0


def _fold_timing(args, model, result, board):
    """fold --timing / --raise-clock: (timing report, lines for the user, the folding at the
    clock it runs at)."""
    import dataclasses

    from bnnforge.finn_flow.folding import timing as fold_timing
    from bnnforge.finn_flow.rtl.synth import timing_report, timing_verdict

    if args.raise_clock and not args.max_fps:
        raise UserError("--raise-clock goes with --max-fps (a --target-fps folding is the cheapest for its clock)")
    synthesized = fold_timing.synthesize(model, result.config(), board, result.clock_ns, args.lab_impl, args.backend)
    report = timing_report(synthesized, result.clock_ns)
    notes = [timing_verdict(report)]
    faster = fold_timing.raised_clock(report, result.clock_ns) if args.raise_clock else None
    if faster is not None:
        notes.append(f"--raise-clock: clock raised from {result.clock_ns} ns to {faster} ns (the estimated critical "
                     f"path {report['critical_path_ns']} ns x {fold_timing.RAISE_MARGIN} margin): "
                     f"{1e9 / faster / result.cycles:,.0f} fps; build with --clock-ns {faster}")
        result = dataclasses.replace(result, clock_ns=faster)
        report = timing_report(synthesized, faster)
    elif args.raise_clock:
        notes.append(f"--raise-clock: the clock stays at {result.clock_ns} ns (the estimate allows no faster one "
                     f"with a {fold_timing.RAISE_MARGIN}x margin)")
    return report, notes, result


def _report_layer_run(run) -> int:
    if run.cycles_per_frame is not None:
        print(f"cycles per frame: {run.cycles_per_frame:.1f} (expected {run.exp_cycles}, "
              f"ratio {run.cycles_per_frame / run.exp_cycles:.3f})")
    if run.waves is not None:
        print(f"waves: {run.waves}")
    where = run.mismatch
    if where is None:
        print("bit-exact")
        return 0
    print(f"MISMATCH: {where}")
    return 1


def _parents() -> dict[str, argparse.ArgumentParser]:
    """Options shared by several subcommands, defined once (argparse parent parsers)."""
    from bnnforge.boards import board_names

    board = argparse.ArgumentParser(add_help=False)
    board.add_argument("--board", required=True, choices=board_names(), help="target board (boards/*.toml)")
    board.add_argument("--clock-ns", type=positive_number, help="clock period (default: the board's)")

    flow = argparse.ArgumentParser(add_help=False)
    flow.add_argument("--lab-impl", choices=LAB_IMPLS, default="fused",
                      help="LAB as the fused LabBinarizer (default) or stock FMPadding + SWG + VVAU")
    flow.add_argument("--backend", "--custom-backend", dest="backend", choices=BACKENDS, default="rtl",
                      help="rtl (default): RTL for every layer that has it (what `sim` simulates and Vivado "
                      "ships); hls: HLS C++ for bnnforge's layers (FINN's HLS elsewhere)")

    stall = argparse.ArgumentParser(add_help=False)
    stall.add_argument("--stall", type=float, default=0.0,
                       help="rtl: probability of a stall on each stream side per cycle (0..0.95)")
    stall.add_argument("--waves", action="store_true", help="rtl: write an FST waveform and print its path")

    # `sim network` and `sim driver`: images through a build's whole accelerator
    images = argparse.ArgumentParser(add_help=False)
    images.add_argument("build_dir", metavar="BUILD_DIR")
    src = images.add_mutually_exclusive_group()
    src.add_argument("--run", metavar="RUN_DIR", help="images and golden outputs of this trained run's test set")
    src.add_argument("--input", metavar="X.npy", help="raw inputs (N, C, H, W) on the model's input grid")
    images.add_argument("--images", type=COUNT, default=16, help="images to stream back to back (default 16)")
    images.add_argument("--stall", type=float, default=0.0, help="probability of an output stall per cycle (0..0.95)")
    return {"board": board, "flow": flow, "stall": stall, "images": images}


def add_doctor_parser(sub, parents) -> None:
    p = sub.add_parser(
        "doctor",
        help="check the toolchain (builds and runs tiny Verilator and ap_int programs)",
        description="Check every tool bnnforge uses; print version, status and the exact fix. "
        "Exit 0 when all required tools work, 1 otherwise.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)


def add_train_parser(sub, parents) -> None:
    p = sub.add_parser(
        "train",
        help="train a BNN (sign / LAB / DyBNN binarizers) with Brevitas",
        description="Train a binary network on a local dataset. Writes RUN_DIR/config.json, "
        "RUN_DIR/checkpoint.pt (after every epoch) and RUN_DIR/metrics.json. "
        "Deterministic for a given --seed; --resume continues an interrupted run.",
    )
    p.add_argument("--arch", choices=ARCHS, default="cnv", help="tfc: 784-64-64-64-10 MLP; cnv: FINN's CNV (default); "
                   "reactnet: residual BNN (ReActNet-style, integer shortcuts)")
    p.add_argument("--binarizer", choices=BINARIZERS, default="sign",
                   help="what binarizes the input of each binary conv after the first (default sign)")
    p.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    p.add_argument("--data-dir", help="dataset folder (cifar10: the folder with data_batch_*.bin; folder: DIR with "
                   "train/<class>/ and val/<class>/ image folders)")
    p.add_argument("--image-size", type=COUNT, default=32, help="--dataset folder: images resized (shorter side) and "
                   "center-cropped to this (default 32)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=3, help="--dataset folder: 3 = RGB (default), "
                   "1 = grayscale")
    p.add_argument("--workers", type=integer_at_least(0), default=2, help="--dataset folder: DataLoader processes reading the "
                   "training images (default 2)")
    p.add_argument("--bn-recalibration-images", type=integer_at_least(0),
                   default=BN_RECALIBRATION_IMAGES, metavar="N",
                   help="after each epoch, recompute BatchNorm's statistics (which the hardware thresholds are "
                   "folded from) with the epoch's final weights over N unaugmented training images (default %(default)s; "
                   "0 keeps the moving averages of training, which lag the binary weights)")
    p.add_argument("--epochs", type=COUNT, default=10)
    p.add_argument("--subset", type=COUNT, help="train on a random subset of N training images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--width", type=positive_number, default=1.0, help="channel width multiplier (e.g. 0.25 for small models)")
    p.add_argument("--blocks", "--depth", type=COUNT, help="reactnet: residual blocks per stage (default 2)")
    p.add_argument("--batch-size", type=COUNT, default=128)
    p.add_argument("--lr", type=positive_number, default=2e-3, help="Adam learning rate (cosine decay)")
    p.add_argument("--lab-kernel", type=int, default=3, help="LAB kernel size k (odd)")
    p.add_argument("--act-bits", type=int, default=4, help="input bits of LAB / DyBNN (2..8); reactnet: the bits of "
                   "every block's integer stream (default 4: benchmarks/results/reactnet_act_bits.md)")
    p.add_argument("--weight-bits", type=int, default=4, help="LAB kernel / DyBNN hyper-function weight bits (2..8)")
    p.add_argument("--hidden-bits", type=int, default=4, help="DyBNN hyper-function hidden activation bits (2..8)")
    p.add_argument("--reduction", type=int, default=4, help="DyBNN reduction ratio r")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="where to train: auto (CUDA when torch sees a GPU, else the CPU; default), cpu, cuda")
    p.add_argument("--augment", action="store_true", help="random crop with --crop-pad pixels of zero padding, and a "
                   "random horizontal flip for fashion-mnist and cifar10 (not digits)")
    p.add_argument("--crop-pad", type=int, default=CROP_PAD, metavar="N",
                   help="--augment: zero padding before the random crop, in pixels (default %(default)s)")
    p.add_argument("--nproc", type=COUNT, default=1, help="data-parallel processes on this machine (launches "
                   "torchrun; gloo on CPUs, NCCL on GPUs); --batch-size stays the global batch. Several machines: "
                   "run `torchrun --nnodes M --nproc-per-node N --rdzv-endpoint HOST:PORT -m bnnforge.cli train ...` "
                   "on each")
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    p.add_argument("--stop-after-epoch", type=COUNT, metavar="K", help="stop after epoch K of the --epochs schedule "
                   "(a long run in parts: continue later with the same command plus --resume)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    p.set_defaults(func=cmd_train)


def add_export_parser(sub, parents) -> None:
    p = sub.add_parser(
        "export",
        help="export a trained run to QONNX plus test vectors",
        description="Write the QONNX model (default RUN_DIR/model.onnx) and RUN_DIR/vectors.npz "
        "(test images and the golden integer output of every layer).",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--out", metavar="FILE", help="QONNX file (default RUN_DIR/model.onnx)")
    p.add_argument("--vectors", type=COUNT, default=8, help="number of test images in vectors.npz")
    p.set_defaults(func=cmd_export)


def add_verify_parser(sub, parents) -> None:
    p = sub.add_parser(
        "verify",
        help="check bit-exactness of every implementation against the golden model",
        description="RUN_DIR (a `bnnforge train` run): run test images through the Brevitas model (eval), the "
        "exported QONNX graph, FINN's Python execution of the hardware graph, the C simulation and the RTL "
        "simulation of the custom layers' generated code, the whole accelerator's RTL, and the integer golden "
        "model; print exact matches per layer and label agreement. "
        "MODEL.onnx (any FINN-compatible QONNX BNN, e.g. a Brevitas export_qonnx file): build it for PYNQ-Z2 "
        "into MODEL_verify_build/ and compare qonnx execution of the model (top-1 class) with FINN's Python "
        "execution of the hardware graph (the reference for every node's integer output), every node's RTL "
        "and the whole accelerator's RTL, on --input or random inputs of the model's input grid. "
        "Exit 1 on any mismatch.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR|MODEL.onnx")
    p.add_argument("--samples", type=COUNT, default=16, help="number of test images or inputs (default 16)")
    p.add_argument("--input", metavar="X.npy", help="MODEL.onnx only: inputs (N, C, H, W) on the accelerator's "
                   "input grid (8-bit pixels for a float-input model, which sees them / 255); default: random")
    p.add_argument("--columns", nargs="*", default=None, metavar="COL",
                   help="RUN_DIR: implementations besides brevitas and qonnx: finn (FINN Python execution), "
                   "csim (C simulation of the custom layers' generated HLS C++), rtl (Verilator simulation of "
                   "their generated RTL with random stalls), network-rtl (the whole accelerator's RTL, built into "
                   "RUN_DIR/verify_rtl_build for PYNQ-Z2, every layer read from its output stream). MODEL.onnx: "
                   "finn, rtl (every node's RTL), network-rtl. Default: all")
    p.set_defaults(func=cmd_verify)


def add_build_parser(sub, parents) -> None:
    p = sub.add_parser(
        "build",
        parents=[parents["board"], parents["flow"]],
        help="build a FINN dataflow accelerator (estimates, HLS/RTL code, bitstream with Vivado)",
        description="Run the FINN flow with bnnforge's custom LAB and dynamic-threshold layers. "
        "Always writes BUILD_DIR/folding.json, BUILD_DIR/report/ (estimates) and the FINN graph after "
        "each step (BUILD_DIR/intermediate_models/). Exit 0 when the requested stage completed, "
        "3 when it needs Vivado/Vitis HLS and they are not on PATH (code generation still runs).",
    )
    p.add_argument("model", metavar="MODEL.onnx", help="QONNX model written by `bnnforge export`, or any "
                   "FINN-compatible QONNX/FINN-ONNX BNN (e.g. Brevitas export_qonnx output: imported with FINN's "
                   "streamlining; a float input becomes 8-bit pixels / 255, float logits a TopK class index)")
    fold = p.add_mutually_exclusive_group()
    fold.add_argument("--target-fps", type=positive_number, help="fold every layer to reach this throughput")
    fold.add_argument("--folding", metavar="FILE", help="FINN folding JSON (e.g. from `bnnforge fold`); it must "
                      "fold every layer unless --partial-folding")
    p.add_argument("--partial-folding", action="store_true", help="with --folding: layers the file leaves out keep "
                   "PE = SIMD = 1 (they are listed)")
    p.add_argument("--until", choices=STAGES, default="bitfile",
                   help="last stage to run: estimate, codegen (per-layer HLS/RTL), rtl (the whole accelerator "
                   "as RTL in BUILD_DIR/rtl/, FIFOs sized in Verilator), bitfile (default; needs Vivado)")
    p.add_argument("--fifo-sizing", choices=FIFO_SIZINGS, default="sim",
                   help="rtl stage: FIFO depths from a Verilator simulation of the stitched design (sim, default) "
                   "or FINN's minimum depths (minimal: faster to build, may run below the layers' throughput)")
    p.add_argument("--no-timing", action="store_true",
                   help="rtl stage: skip the critical-path estimate (yosys synthesis of every layer, cached per layer "
                   "in BUILD_DIR/rtl_synth/; minutes on a large design). By default the build prints the estimated "
                   "Fmax and warns when it is below the clock")
    p.add_argument("--from-step", metavar="STEP", help="resume from this step (its predecessor's model is reused)")
    p.add_argument("--vectors", metavar="FILE", help="golden vectors for the Python-execution check "
                   "(default: vectors.npz next to the model)")
    p.add_argument("--out", required=True, metavar="BUILD_DIR")
    p.set_defaults(func=cmd_build)


def add_fold_parser(sub, parents) -> None:
    p = sub.add_parser(
        "fold",
        parents=[parents["board"], parents["flow"]],
        help="choose PE/SIMD/memory style of every layer for a throughput target or the board's maximum",
        description="Fold every layer (stock and custom) of a model or build folder: --target-fps F finds the "
        "cheapest folding (LUT and BRAM weighted by their share of the board) that reaches F; --max-fps finds the "
        "fastest that fits within --util of the board. Writes a folding JSON for `bnnforge build --folding`. "
        "A QONNX input is prepared as `bnnforge build` would (same --lab-impl and --backend).",
    )
    p.add_argument("model", metavar="MODEL_OR_BUILD", help="QONNX model from `bnnforge export`, or a build folder")
    goal = p.add_mutually_exclusive_group(required=True)
    goal.add_argument("--target-fps", type=positive_number)
    goal.add_argument("--max-fps", action="store_true")
    p.add_argument("--util", type=positive_number, default=0.8, help="usable share of the board's LUT and BRAM (default 0.8)")
    p.add_argument("--objective", choices=FOLD_OBJECTIVES, default="cost",
                   help="with --target-fps, what 'cheapest' means: cost = LUT share + BRAM share of the board "
                   "(default), lut = fewest LUTs that fit (BRAM is spent freely within --util)")
    p.add_argument("--timing", action="store_true",
                   help="estimate the chosen folding's critical path: every layer's RTL generated and synthesized "
                   "by yosys out of context (minutes; cached by content), the verdict against the clock")
    p.add_argument("--raise-clock", action="store_true",
                   help="with --max-fps: run at the fastest clock the timing estimate allows (with a "
                   "1.25x margin), reported with the --clock-ns to build with")
    p.add_argument("--out", default="folding.json", help="folding JSON to write (default folding.json)")
    p.add_argument("--plot", metavar="PNG", help="write the Pareto front (fps vs LUT and vs BRAM)")
    p.add_argument("--json", action="store_true", help="machine-readable summary on stdout")
    p.set_defaults(func=cmd_fold)


def add_sim_parser(sub, parents) -> None:
    p = sub.add_parser("sim", help="simulate layers and nodes on their generated code (RTL under Verilator, HLS C++)")
    simsub = p.add_subparsers(dest="sim_command", metavar="WHAT", required=True)
    for add in (add_sim_layer_parser, add_sim_node_parser, add_sim_network_parser, add_sim_driver_parser,
                add_sim_synth_parser):
        add(simsub, parents)


def add_sim_layer_parser(simsub, parents) -> None:
    q = simsub.add_parser(
        "layer",
        parents=[parents["stall"]],
        help="run one custom layer on given parameters and input; compare with the golden model",
        description="Stream INPUT (int (N,C,H,W) .npy) through the layer's generated code and write OUTPUT "
        "(int8 +-1, NCHW). PARAMS .npz: lab: weights (C,k,k), thresholds (C,), input_bits, weight_bits; "
        "dynthresh: thresholds (N,C), input_bits. Prints 'bit-exact' or the first mismatch; exit 1 on mismatch.",
    )
    q.add_argument("layer", choices=list(registry.cli_layers()))
    q.add_argument("--backend", choices=BACKENDS, default="rtl")
    q.add_argument("--params", required=True, metavar="P.npz")
    q.add_argument("--input", required=True, metavar="X.npy")
    q.add_argument("--output", required=True, metavar="Y.npy")
    q.add_argument("--pe", type=COUNT, default=1, help="channels per stream beat (must divide C)")
    q.set_defaults(func=cmd_sim_layer)


def add_sim_node_parser(simsub, parents) -> None:
    q = simsub.add_parser(
        "node",
        parents=[parents["stall"]],
        help="simulate one node of a build with its real parameters, folding and input",
        description="Simulate any node of BUILD_DIR on its generated RTL (bnnforge's own, or FINN's finn-rtllib) "
        "with its real parameters and folding, fed with what it receives for the build's golden test vectors "
        "(random inputs without them), and compare with FINN's Python execution of that node. Exit 1 on mismatch.",
    )
    q.add_argument("build_dir", metavar="BUILD_DIR")
    q.add_argument("node", metavar="NODE_NAME", help="e.g. LabBinarizer_rtl_0 (see the build's layer table)")
    q.add_argument("--images", type=COUNT, default=2, help="test images to stream back to back (default 2)")
    q.set_defaults(func=cmd_sim_node)


def add_sim_network_parser(simsub, parents) -> None:
    q = simsub.add_parser(
        "network",
        parents=[parents["images"]],
        help="run images back to back through the whole accelerator's RTL (Verilator), bit-exact",
        description="Stream N images back to back through BUILD_DIR/rtl/ (from `bnnforge build --until rtl`) in "
        "a compiled Verilator harness and compare every output exactly with a reference: --run RUN_DIR: its test "
        "images and golden model (the run the build was made from); --input X.npy: your inputs (checked against "
        "the accelerator's input shape and datatype), compared with FINN's Python execution of the build's graph; "
        "by default the test set of the run the build's model came from, else the build's golden test vectors, "
        "else random inputs compared with FINN's Python execution. Prints steady-state cycles/frame, latency, fps "
        "at the build's clock, the ratio to FINN's estimate and the simulation speed. On a mismatch: exit 1, "
        "the first wrong image and the first layer whose output diverges.",
    )
    q.add_argument("--waves", action="store_true", help="write an FST waveform of the first chunk (BUILD_DIR/rtl_sim)")
    q.add_argument("--output", metavar="Y.npy", help="write the accelerator's outputs (N x outputs, integers)")
    q.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.set_defaults(func=cmd_sim_network)


def add_sim_driver_parser(simsub, parents) -> None:
    q = simsub.add_parser(
        "driver",
        parents=[parents["images"]],
        help="the deployment package's PYNQ driver against the simulated RTL (off-board check)",
        description="Run BUILD_DIR/deploy/driver.py (the code that runs on the board) with a shim of the pynq "
        "package over the Verilator simulation of the whole programmable-logic design (BUILD_DIR/rtl/bnnforge_system: "
        "the DMA engines and the accelerator, with a simulated DDR): the driver's register writes go over the "
        "system's AXI4-Lite port, its buffers live in the simulated DDR, the DMAs move the frames. The shim checks "
        "what pynq checks (32-bit int register values, offsets in the register map, the .bit and .hwh when the "
        "build has them) and that every buffer is flushed before a DMA reads it. --stall: write-side "
        "backpressure of the memory. Every output is compared exactly with the same reference "
        "as `sim network` (--run, --input, or by default the test set of the run the model came from). Exit 1 on a "
        "mismatch.",
    )
    q.add_argument("--validate", action="store_true", help="run the package's validate.py instead (as on the "
                   "board: its test set, accuracy and throughput), on the first --images images")
    q.add_argument("--mem-latency", type=COUNT, default=20, metavar="CYCLES",
                   help="simulated DDR: cycles from a request to its first data (default 20)")
    q.add_argument("--json", metavar="FILE", help="write images, mismatches, fps, cycles_per_frame as JSON")
    q.set_defaults(func=cmd_sim_driver)


def add_sim_synth_parser(simsub, parents) -> None:
    q = simsub.add_parser(
        "synth",
        help="yosys cell counts (LUT, FF, CARRY, BRAM, DSP) of a layer's or a build node's RTL",
        description="Synthesize RTL with yosys synth_xilinx (pre place-and-route estimate; LUT includes INV "
        "cells, an upper bound): a custom LAYER from --params, or --node BUILD_DIR NODE of a build.",
    )
    q.add_argument("layer", nargs="?", choices=list(registry.cli_layers()))
    q.add_argument("--params", metavar="P.npz", help="as for `sim layer`")
    q.add_argument("--node", nargs=2, metavar=("BUILD_DIR", "NODE"), help="a node of a build instead of a LAYER")
    q.add_argument("--network", metavar="BUILD_DIR", help="the whole accelerator of a `build --until rtl`: every "
                   "layer synthesized out of context (cached by its content), per layer and in total: LUT/FF/BRAM "
                   "beside the estimates, critical path, logic levels and Fmax against the build's clock")
    q.add_argument("--jobs", type=COUNT, default=os.cpu_count() or 1, help="--network: layers synthesized at once "
                   "(default: one per core; each layer is cached by its content)")
    q.add_argument("--pe", type=COUNT, default=1)
    q.add_argument("--hw", type=COUNT, nargs=2, default=(32, 32), metavar=("H", "W"), help="feature map size")
    q.add_argument("--family", choices=("xc7", "xcup"), help="xc7: PYNQ-Z2, xcup: ZCU104 (default: xc7, or the "
                   "build's board with --network)")
    q.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="machine-readable output (--network: on stdout, or to FILE beside the table)")
    q.set_defaults(func=cmd_sim_synth)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnnforge",
        description="FPGA accelerator generator for binary neural networks: "
        "train (sign / LAB / DyBNN binarizers) -> export QONNX -> FINN build -> verify bit-exactness.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bnnforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parents = _parents()
    for add in (add_doctor_parser, add_train_parser, add_export_parser, add_verify_parser, add_build_parser,
                add_fold_parser, add_sim_parser):
        add(sub, parents)
    return parser


def check_output_path(path: str, option: str, folder: bool = False) -> None:
    """An output file (or folder) the command can write: refused up front, naming the option,
    instead of failing after the work is done."""
    p = Path(path)
    if folder:
        if p.exists() and not p.is_dir():
            raise UserError(f"{option} {path}: a file, not a folder")
    elif p.is_dir():
        raise UserError(f"{option} {path}: a folder, not a file")
    parent = p if folder and p.exists() else p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent  # the nearest existing folder: the command creates the rest
    if not parent.is_dir():
        raise UserError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UserError(f"{option} {path}: not writable")


# (command, option attribute, option name, a folder?): outputs checked before a command runs
OUTPUT_OPTIONS = (("train", "out", "--out", True), ("build", "out", "--out", True), ("export", "out", "--out", False),
                  ("fold", "out", "--out", False), ("fold", "plot", "--plot", False), ("sim", "output", "--output", False),
                  ("sim", "json", "--json", False))


def check_outputs(args: argparse.Namespace) -> None:
    for command, attr, option, folder in OUTPUT_OPTIONS:
        value = getattr(args, attr, None)
        if args.command == command and isinstance(value, str) and value != "-":
            check_output_path(value, option, folder)


def _internal_error(command: str, e: BaseException) -> int:
    """A bnnforge bug: one line saying so, the traceback in a file."""
    import tempfile
    import time
    import traceback

    folder = Path(os.environ.get("BNNFORGE_CACHE_DIR", Path.home() / ".cache" / "bnnforge")) / "errors"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir())
    path = folder / f"bnnforge-{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    path.write_text(f"bnnforge {__version__}: {' '.join(sys.argv)}\n\n" + "".join(traceback.format_exception(e)))
    print(f"bnnforge {command}: internal error (a bnnforge bug, please report it): {type(e).__name__}: {e}\n"
          f"  traceback: {path}", file=sys.stderr)
    return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        check_outputs(args)
        return args.func(args)
    except BnnforgeError as e:
        if e.exit_code == EXIT_INTERNAL:
            return _internal_error(args.command, e)
        print(f"bnnforge {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"bnnforge {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output went to a pipe that closed (`| head`): nothing to report
        sys.stderr.close()
        return 141
    except Exception as e:  # noqa: BLE001  (anything else is a bug: say so, keep the traceback)
        return _internal_error(args.command, e)


if __name__ == "__main__":
    sys.exit(main())
