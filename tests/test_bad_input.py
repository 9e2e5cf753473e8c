"""Bad input across every command: each probe asserts the exit code, that the one message
names the offending file, option, node or value, that no Python traceback reaches the user,
and that nothing the user owns was changed (the probes' own run and build folders are
compared byte for byte before and after). Ctrl-C during `train` and `build`, then the same
command again: the rerun completes with the result of an uninterrupted run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bnnforge import cli
from conftest import BNNFORGE


def snapshot(*folders: Path) -> dict:
    """Every file under ``folders``: its content hash (what "nothing changed" compares)."""
    out = {}
    for folder in folders:
        for f in sorted(Path(folder).rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def snapshot_names(folder: Path, pattern: str) -> dict:
    """File name -> content hash of the files matching ``pattern`` in ``folder``."""
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(Path(folder).glob(pattern))}


@pytest.fixture(scope="module")
def world(tfc_run, tmp_path_factory):
    """A trained tfc run, its rtl-stage build, and files to feed the probes."""
    d = tmp_path_factory.mktemp("bad-input")
    build = d / "build"
    assert cli.main(["build", str(tfc_run / "model.onnx"), "--board", "pynq-z2", "--until", "rtl", "--target-fps",
                     "20000", "--fifo-sizing", "minimal", "--no-timing", "--out", str(build)]) == 0
    f = d / "files"
    f.mkdir()
    (f / "empty.onnx").write_bytes(b"")
    (f / "trunc.onnx").write_bytes((tfc_run / "model.onnx").read_bytes()[:2000])
    (f / "text.onnx").write_text("not a model\n")
    (f / "bad.json").write_text("{not json")
    folding = json.loads((build / "folding.json").read_text())
    partial = {k: v for k, v in list(folding.items())[:2]}
    (f / "partial.json").write_text(json.dumps(partial))
    (f / "bogus_node.json").write_text(json.dumps({**folding, "NoSuchNode": {"PE": 2}}))
    (f / "a_file").write_text("x")
    shape = (2, 1, 32, 32)
    np.save(f / "x300.npy", np.full(shape, 300.0))
    np.save(f / "xneg.npy", np.full(shape, -5.0))
    np.save(f / "xhalf.npy", np.full(shape, 0.5))
    np.save(f / "xnan.npy", np.full(shape, np.nan))
    np.save(f / "xshape.npy", np.zeros((2, 3, 8, 8)))
    np.save(f / "x3d.npy", np.zeros((2, 8, 8)))
    np.savez(f / "lab.npz", weights=np.zeros((4, 3, 3), int), thresholds=np.zeros(4, int), input_bits=4)
    np.save(f / "lab_x.npy", np.zeros((1, 4, 5, 5), int))
    foreign = d / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n")
    interrupted = d / "interrupted"
    shutil.copytree(build, interrupted)
    state = json.loads((interrupted / "build_state.json").read_text())
    state["running"] = "fifo_sizing"
    (interrupted / "build_state.json").write_text(json.dumps(state))
    return {"run": tfc_run, "build": build, "files": f, "dir": d, "foreign": foreign, "interrupted": interrupted}


def probes(w) -> list[tuple[str, list[str], int, list[str]]]:
    """(name, argv, exit code, strings the message must contain)."""
    run, build, f, d = str(w["run"]), str(w["build"]), w["files"], w["dir"]
    model = f"{run}/model.onnx"
    b = ["--board", "pynq-z2"]
    return [
        ("train epochs 0", ["train", "--arch", "tfc", "--dataset", "digits", "--epochs", "0", "--out", f"{d}/t"], 2,
         ["--epochs", "0 must be at least 1"]),
        ("train negative epochs", ["train", "--epochs", "-2", "--out", f"{d}/t"], 2, ["--epochs"]),
        ("train batch size 0", ["train", "--batch-size", "0", "--out", f"{d}/t"], 2, ["--batch-size"]),
        ("train subset 0", ["train", "--subset", "0", "--out", f"{d}/t"], 2, ["--subset"]),
        ("train width nan", ["train", "--width", "nan", "--out", f"{d}/t"], 2, ["--width", "nan"]),
        ("train lr negative", ["train", "--lr", "-1", "--out", f"{d}/t"], 2, ["--lr"]),
        ("train unknown arch", ["train", "--arch", "resnet", "--out", f"{d}/t"], 2, ["--arch", "resnet"]),
        ("train nproc 0", ["train", "--nproc", "0", "--out", f"{d}/t"], 2, ["--nproc"]),
        ("train out is a file", ["train", "--arch", "tfc", "--dataset", "digits", "--out", f"{f}/a_file"], 2,
         ["--out", "a_file", "a file, not a folder"]),
        ("train over a finished run", ["train", "--arch", "tfc", "--dataset", "digits", "--out", run], 2,
         [run, "--resume"]),
        ("export missing run", ["export", f"{d}/nowhere"], 2, ["nowhere"]),
        ("export vectors 0", ["export", run, "--vectors", "0"], 2, ["--vectors"]),
        ("export out is a folder", ["export", run, "--out", str(d)], 2, ["--out", "a folder, not a file"]),
        ("build missing model", ["build", f"{d}/none.onnx", *b, "--out", f"{d}/b1"], 2, ["none.onnx", "not found"]),
        ("build empty model", ["build", f"{f}/empty.onnx", *b, "--out", f"{d}/b1"], 2, ["empty.onnx", "empty"]),
        ("build truncated model", ["build", f"{f}/trunc.onnx", *b, "--out", f"{d}/b1"], 2,
         ["trunc.onnx", "not a readable ONNX model"]),
        ("build text as model", ["build", f"{f}/text.onnx", *b, "--out", f"{d}/b1"], 2, ["text.onnx"]),
        ("build unknown board", ["build", model, "--board", "arty", "--out", f"{d}/b1"], 2, ["arty", "pynq-z2"]),
        ("build target fps 0", ["build", model, *b, "--target-fps", "0", "--out", f"{d}/b1"], 2, ["--target-fps"]),
        ("build target fps nan", ["build", model, *b, "--target-fps", "nan", "--out", f"{d}/b1"], 2, ["nan"]),
        ("build target fps unreachable", ["build", model, *b, "--target-fps", "1e9", "--until", "estimate", "--out",
                                          f"{d}/b2"], 2, ["--target-fps", "cannot reach"]),
        ("build clock negative", ["build", model, *b, "--clock-ns", "-5", "--out", f"{d}/b1"], 2, ["--clock-ns"]),
        ("build folding missing", ["build", model, *b, "--folding", f"{d}/none.json", "--out", f"{d}/b1"], 2,
         ["none.json", "not found"]),
        ("build folding not json", ["build", model, *b, "--folding", f"{f}/bad.json", "--until", "estimate",
                                    "--out", f"{d}/b3"], 2, ["bad.json", "not valid JSON"]),
        ("build folding partial", ["build", model, *b, "--folding", f"{f}/partial.json", "--until", "estimate",
                                   "--out", f"{d}/b4"], 2, ["partial.json", "does not fold", "--partial-folding"]),
        ("build folding unknown node", ["build", model, *b, "--folding", f"{f}/bogus_node.json", "--until",
                                        "estimate", "--out", f"{d}/b5"], 2, ["'NoSuchNode' is not in the graph"]),
        ("build folding and target", ["build", model, *b, "--folding", f"{f}/partial.json", "--target-fps", "10",
                                      "--out", f"{d}/b1"], 2, ["--target-fps", "--folding"]),
        ("build unknown step", ["build", model, *b, "--from-step", "bogus", "--out", f"{d}/b1"], 2,
         ["bogus", "steps are"]),
        ("build resume a fresh folder", ["build", model, *b, "--from-step", "fifo_sizing", "--out", f"{d}/b6"], 2,
         ["cannot resume from fifo_sizing"]),
        ("build resume with another target", ["build", model, *b, "--target-fps", "1000", "--from-step",
                                              "fifo_sizing", "--until", "rtl", "--out", build], 2,
         ["--target-fps", "changes step fold"]),
        ("build out is a file", ["build", model, *b, "--out", f"{f}/a_file"], 2, ["a_file", "a file, not a folder"]),
        ("build out a foreign folder", ["build", model, *b, "--out", str(w["foreign"])], 2,
         ["no bnnforge build wrote", "notes.txt"]),
        ("build bitfile with hls", ["build", model, *b, "--backend", "hls", "--until", "bitfile", "--out", f"{d}/b1"],
         2, ["--until bitfile needs --backend rtl"]),
        ("build vectors missing", ["build", model, *b, "--vectors", f"{d}/none.npz", "--out", f"{d}/b1"], 2,
         ["none.npz"]),
        ("fold missing model", ["fold", f"{d}/none.onnx", *b, "--max-fps", "--out", f"{d}/f.json"], 2, ["none.onnx"]),
        ("fold empty model", ["fold", f"{f}/empty.onnx", *b, "--max-fps", "--out", f"{d}/f.json"], 2, ["empty"]),
        ("fold util 0", ["fold", model, *b, "--max-fps", "--util", "0", "--out", f"{d}/f.json"], 2, ["--util"]),
        ("fold util above 1", ["fold", model, *b, "--max-fps", "--util", "1.5", "--out", f"{d}/f.json"], 2,
         ["--util 1.5", "(0, 1]"]),
        ("fold negative target", ["fold", model, *b, "--target-fps", "-1", "--out", f"{d}/f.json"], 2,
         ["--target-fps"]),
        ("fold an empty folder", ["fold", str(w["foreign"]), *b, "--max-fps", "--out", f"{d}/f.json"], 2,
         ["not a bnnforge build folder"]),
        ("fold out is a folder", ["fold", model, *b, "--max-fps", "--out", str(d)], 2, ["--out", "a folder"]),
        ("fold plot under a file", ["fold", model, *b, "--max-fps", "--out", f"{d}/f.json", "--plot",
                                    f"{f}/a_file/p.png"], 2, ["--plot", "is a file, not a folder"]),
        ("verify missing", ["verify", f"{d}/none.onnx"], 2, ["none.onnx"]),
        ("verify empty model", ["verify", f"{f}/empty.onnx"], 2, ["empty.onnx", "empty"]),
        ("verify unknown column", ["verify", run, "--columns", "bogus"], 2, ["bogus", "allowed"]),
        ("verify input for a run", ["verify", run, "--input", f"{f}/x300.npy"], 2, ["--input applies to a model"]),
        ("verify samples 0", ["verify", run, "--samples", "0"], 2, ["--samples"]),
        ("sim network not a build", ["sim", "network", str(w["foreign"])], 2, ["not a bnnforge build folder"]),
        ("sim network missing folder", ["sim", "network", f"{d}/none"], 2, ["no such build folder"]),
        ("sim network input 300", ["sim", "network", build, "--input", f"{f}/x300.npy", "--quiet"], 2,
         ["x300.npy", "integers in [0, 255]", "300"]),
        ("sim network input negative", ["sim", "network", build, "--input", f"{f}/xneg.npy", "--quiet"], 2,
         ["xneg.npy", "[-5, -5]"]),
        ("sim network input fractions", ["sim", "network", build, "--input", f"{f}/xhalf.npy", "--quiet"], 2,
         ["xhalf.npy", "not all integers"]),
        ("sim network input nan", ["sim", "network", build, "--input", f"{f}/xnan.npy", "--quiet"], 2,
         ["xnan.npy", "finite"]),
        ("sim network input shape", ["sim", "network", build, "--input", f"{f}/xshape.npy", "--quiet"], 2,
         ["xshape.npy", "the accelerator takes (N, 1024)"]),
        ("sim network input not npy", ["sim", "network", build, "--input", f"{f}/bad.json", "--quiet"], 2,
         ["bad.json", "not a readable .npy"]),
        ("sim network another run", ["sim", "network", build, "--run", str(w["dir"]), "--quiet"], 2,
         ["--run", "model.onnx"]),
        ("sim network images -3", ["sim", "network", build, "--images", "-3"], 2, ["--images", "-3"]),
        ("sim network stall 0.99", ["sim", "network", build, "--stall", "0.99", "--quiet"], 2,
         ["--stall 0.99", "0..0.95"]),
        ("sim network json under a file", ["sim", "network", build, "--json", f"{f}/a_file/r.json", "--quiet"], 2,
         ["--json", "is a file, not a folder"]),
        ("sim network interrupted build", ["sim", "network", str(w["interrupted"]), "--quiet"], 2,
         ["stopped during step fifo_sizing"]),
        ("sim network run and input", ["sim", "network", build, "--run", run, "--input", f"{f}/x300.npy"], 2,
         ["--input", "--run"]),
        ("sim driver latency 0", ["sim", "driver", build, "--mem-latency", "0"], 2, ["--mem-latency"]),
        ("sim driver input 300", ["sim", "driver", build, "--input", f"{f}/x300.npy"], 2, ["x300.npy", "[0, 255]"]),
        ("sim driver interrupted build", ["sim", "driver", str(w["interrupted"])], 2, ["stopped during step"]),
        ("sim node unknown node", ["sim", "node", build, "NoSuchNode_0"], 2, ["NoSuchNode_0", "is not a node"]),
        ("sim node images 0", ["sim", "node", build, "MVAU_lut_rtl_0", "--images", "0"], 2, ["--images"]),
        ("sim layer unknown layer", ["sim", "layer", "conv", "--params", f"{f}/lab.npz", "--input",
                                     f"{f}/lab_x.npy", "--output", f"{d}/y.npy"], 2, ["conv", "lab"]),
        ("sim layer missing params", ["sim", "layer", "lab", "--params", f"{d}/none.npz", "--input",
                                      f"{f}/lab_x.npy", "--output", f"{d}/y.npy"], 2, ["none.npz", "not found"]),
        ("sim layer pe does not divide", ["sim", "layer", "lab", "--params", f"{f}/lab.npz", "--input",
                                          f"{f}/lab_x.npy", "--output", f"{d}/y.npy", "--pe", "3"], 2,
         ["PE=3", "allowed"]),
        ("sim layer input 3-d", ["sim", "layer", "lab", "--params", f"{f}/lab.npz", "--input", f"{f}/x3d.npy",
                                 "--output", f"{d}/y.npy"], 2, ["x3d.npy", "(N, C, H, W)"]),
        ("sim synth nothing", ["sim", "synth"], 2, ["give a LAYER"]),
        ("sim synth network not a build", ["sim", "synth", "--network", str(w["foreign"])], 2,
         ["not a build folder"]),
        ("sim synth pe 0", ["sim", "synth", "lab", "--params", f"{f}/lab.npz", "--pe", "0"], 2, ["--pe"]),
    ]


def run_probe(argv, capsys) -> tuple[int, str]:
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse: exit 2 after its usage message
        code = e.code
    cap = capsys.readouterr()
    return code, cap.out + cap.err


def test_every_bad_input_gets_one_clear_message(world, capsys):
    cases = probes(world)
    assert len(cases) >= 60
    before = snapshot(world["run"], world["build"], world["files"], world["foreign"])
    failures = []
    for name, argv, code, needles in cases:
        got, text = run_probe(argv, capsys)
        missing = [s for s in needles if s not in text]
        if got != code or missing or "Traceback" in text:
            failures.append(f"{name}: exit {got} (want {code}), missing {missing}: {text.strip()[-400:]}")
    assert not failures, "\n".join(failures)
    after = snapshot(world["run"], world["build"], world["files"], world["foreign"])
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"the probes changed files they should not touch: {changed[:5]}"


def test_doctor_names_an_unwritable_cache_folder(tmp_path):
    blocked = tmp_path / "a_file"
    blocked.write_text("x")
    env = {**os.environ, "BNNFORGE_CACHE_DIR": str(blocked / "cache")}
    out = subprocess.run([*BNNFORGE, "doctor"], capture_output=True, text=True, env=env)
    assert out.returncode == 1 and "toolchain NOT ready" in out.stdout, out.stdout + out.stderr
    assert f"the cache folder {blocked / 'cache'} is not writable" in out.stdout and "BNNFORGE_CACHE_DIR" in out.stdout


def test_paths_with_spaces_work(world, tmp_path):
    """A build folder and a run folder whose paths hold spaces, in the commands that read them."""
    spaced = tmp_path / "my builds" / "tfc build"
    shutil.copytree(world["build"], spaced)
    assert cli.main(["sim", "network", str(spaced), "--images", "2", "--quiet"]) == 0
    assert cli.main(["sim", "node", str(spaced), "MVAU_lut_rtl_1", "--images", "1"]) == 0
    assert cli.main(["sim", "synth", "--node", str(spaced), "MVAU_lut_rtl_1"]) == 0


def _interrupt(argv: list[str], when, timeout: float = 900, env: dict | None = None) -> None:
    """Start a bnnforge command in its own process group and send SIGINT to the group once
    ``when()`` is true (checked every 0.2 s); the command must stop."""
    # SIGINT back to its default in the child: a suite started in the background by a
    # non-interactive shell (`make test &`) inherits SIGINT ignored, which Python keeps
    proc = subprocess.Popen([*BNNFORGE, *argv], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            env=env)
    t0 = time.time()
    while not when() and proc.poll() is None:
        assert time.time() - t0 < timeout, "the command never reached the point to interrupt"
        time.sleep(0.2)
    assert proc.poll() is None, "the command finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=120) != 0


def test_ctrl_c_during_build_then_the_same_command(world, tmp_path):
    model = str(world["run"] / "model.onnx")
    argv = ["build", model, "--board", "pynq-z2", "--until", "rtl", "--target-fps", "5000", "--no-timing", "--out"]
    reference = tmp_path / "uninterrupted"
    assert cli.main([*argv, str(reference)]) == 0
    out = tmp_path / "interrupted"

    def in_codegen():
        state = out / "build_state.json"
        return state.exists() and json.loads(state.read_text()).get("running") in ("codegen", "rtl_fifos",
                                                                                  "fifo_sizing")

    # a cache of its own: with the reference build's Verilator models cached, the FIFO stages can
    # pass within one 0.2 s poll (a loaded fresh-clone suite once saw the command finish first)
    _interrupt([*argv, str(out)], in_codegen, env={**os.environ, "BNNFORGE_CACHE_DIR": str(tmp_path / "cold-cache")})
    state = json.loads((out / "build_state.json").read_text())
    assert state["running"], state  # the folder says it is not finished: nobody trusts it
    assert subprocess.run([*BNNFORGE, "sim", "network", str(out), "--quiet"], capture_output=True).returncode == 2
    assert cli.main([*argv, str(out)]) == 0  # the same command again
    for f in ("folding.json", "report/fifo_sizing.json"):
        assert (out / f).read_text() == (reference / f).read_text(), f
    # the same design (FINN names inner tensors at random: compare nodes, memories and behaviour)
    nodes = [sorted({e["producer"] for e in json.loads((b / "rtl" / "design.json").read_text())["edges"]} - {None})
             for b in (out, reference)]
    assert nodes[0] == nodes[1]
    assert snapshot_names(out / "rtl", "*.hex") == snapshot_names(reference / "rtl", "*.hex")
    for b in (out, reference):
        assert cli.main(["sim", "network", str(b), "--images", "3", "--quiet", "--output", str(b / "y.npy")]) == 0
    assert np.array_equal(np.load(out / "y.npy"), np.load(reference / "y.npy"))


def test_ctrl_c_during_train_then_the_same_command(tmp_path):
    # 12 short epochs (0.3-2 s each, Brevitas' fake quantization): the interrupt, sent within 0.2 s
    # of the first checkpoint, lands mid-training (with 3 epochs the run could finish before the
    # signal arrived; 40 took 110 s of the suite's time)
    argv = ["train", "--arch", "tfc", "--width", "0.125", "--dataset", "digits", "--epochs", "12", "--subset", "600",
            "--batch-size", "50", "--seed", "3", "--quiet", "--out"]
    reference = tmp_path / "uninterrupted"
    assert cli.main([*argv, str(reference)]) == 0
    out = tmp_path / "interrupted"
    _interrupt([*argv, str(out)], lambda: (out / "checkpoint.pt").exists())
    assert not (out / "metrics.json").exists(), "the run finished before the interrupt reached it"
    assert cli.main([*argv, str(out)]) == 0  # the same command again: it resumes the unfinished run
    want = json.loads((reference / "metrics.json").read_text())
    got = json.loads((out / "metrics.json").read_text())
    assert got["test_accuracy"] == want["test_accuracy"]
    assert sys.modules["bnnforge.cli"] is cli
