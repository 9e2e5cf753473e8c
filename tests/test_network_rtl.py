"""The whole accelerator as RTL: `bnnforge build --until rtl` (width converters, FIFOs sized in
Verilator, the stitched top) and `bnnforge sim network` on real images, bit-exact under
random output stalls; a flipped weight bit is caught and located; a stuck layer on the
DyBNN fork is reported as a deadlock within a bound, not a hang."""

import json
import re
import shutil

import pytest

from conftest import run_cli

NETWORKS = ["tfc", "sign", "lab", "dybnn"]


@pytest.fixture(scope="module")
def rtl_builds(small_runs, tfc_run, tmp_path_factory):
    """BUILD folders through the rtl stage, one per network."""
    builds = {}
    for name in NETWORKS:
        run = tfc_run if name == "tfc" else small_runs[name]
        out = tmp_path_factory.mktemp(f"rtl-{name}") / "build"
        fps = "20000" if name == "tfc" else "3000"
        # FIFOs are sized in simulation for the DyBNN fork (and sign, whose throughput is checked); the
        # others keep FINN's minimum depths: bit-exactness does not depend on them, build time does
        sizing = "sim" if name in ("dybnn", "sign") else "minimal"
        # (the rtl stage's timing estimate: tests/test_fold.py, on the tfc fold --timing estimated)
        res = run_cli("build", run / "model.onnx", "--board", "pynq-z2", "--until", "rtl", "--target-fps", fps,
                      "--fifo-sizing", sizing, "--no-timing", "--out", out)
        assert res.returncode == 0, res.stdout + res.stderr
        builds[name] = (run, out)
    return builds


@pytest.mark.parametrize("name", NETWORKS)
def test_sim_network_bit_exact_under_stalls(rtl_builds, name, tmp_path):
    run, build = rtl_builds[name]
    for f in ("accelerator.sv", "bnnforge_system.sv", "filelist.f", "synth.ys", "README", "design.json",
              "../vivado/build_bitfile.tcl", "../vivado/bnnforge_system_wrapper.v"):
        assert (build / "rtl" / f).exists(), f
    sizing = json.loads((build / "report" / "fifo_sizing.json").read_text())
    if sizing["method"] == "sim":
        assert sizing["cycles_per_frame_sized"] <= sizing["cycles_per_frame_deep"]
        assert sizing["fifo_bits"]["sized"] < sizing["fifo_bits"]["deep"]
    out = run_cli("sim", "network", build, "--run", run, "--images", "8", "--stall", "0.3", "--json",
                  tmp_path / "r.json", "--output", tmp_path / "y.npy", "--quiet")
    assert out.returncode == 0 and "bit-exact: 8 images" in out.stdout, out.stdout + out.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    assert set(r) >= {"images", "mismatches", "cycles_per_frame", "estimated_cycles_per_frame", "latency_cycles",
                      "fps", "sim_frames_per_s"}
    assert r["images"] == 8 and r["mismatches"] == 0 and r["latency_cycles"] > 0
    import numpy as np

    y = np.load(tmp_path / "y.npy")
    assert y.shape == (8, 10) and y.dtype == np.int64


@pytest.mark.parametrize("name", ["tfc", "sign"])
def test_sim_network_without_stalls_meets_the_estimate(rtl_builds, name, tmp_path):
    """Steady-state cycles per frame equal the bottleneck layer's exp_cycles when that figure
    is exact; FINN's sliding-window model is an upper bound (pessimistic by 2-30 %), so where
    a sliding window is the bottleneck the network may be faster, never slower."""
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow import registry
    from bnnforge.finn_flow.simulate import reference

    _, build = rtl_builds[name]
    out = run_cli("sim", "network", build, "--images", "4", "--json", tmp_path / "r.json", "--quiet")
    assert out.returncode == 0, out.stdout + out.stderr
    r = json.loads((tmp_path / "r.json").read_text())
    model, _ = reference.latest_model(build)
    insts = [getCustomOp(n) for n in model.graph.node]
    slowest = max(registry.exp_cycles(i) for i in insts)  # width converters and FIFOs included
    bottleneck_is_a_bound = any(not registry.cycles_exact(i) for i in insts if registry.exp_cycles(i) == slowest)
    if bottleneck_is_a_bound:
        assert r["cycles_per_frame"] <= slowest, r
    else:
        assert r["cycles_per_frame"] == slowest, r


def test_flipped_weight_bit_is_caught_and_located(rtl_builds, tmp_path):
    run, build = rtl_builds["sign"]
    broken = tmp_path / "build"
    shutil.copytree(build, broken, symlinks=True)
    hexes = sorted((broken / "rtl").glob("MVAU_lut_rtl_*_weights.hex"))
    target = hexes[len(hexes) // 2]
    lines = target.read_text().splitlines()
    lines[0] = f"{int(lines[0], 16) ^ 1:x}"  # one weight bit of one MVAU
    target.write_text("\n".join(lines) + "\n")
    node = target.name[: -len("_weights.hex")]
    out = run_cli("sim", "network", broken, "--run", run, "--images", "8", "--quiet")
    assert out.returncode == 1 and "MISMATCH" in out.stdout, out.stdout + out.stderr
    assert re.search(rf"first divergent layer: stream \S+ \({node} ->", out.stdout), out.stdout


def test_stuck_layer_on_the_dybnn_fork_is_a_deadlock(rtl_builds, tmp_path):
    """DynamicThreshold needs the thresholds the GlobalAccPool branch computes from the same
    frame; a pool that never finishes (its frame size wrong) stops the fork. The simulation
    must stop within its bound and name the stalled streams."""
    _, build = rtl_builds["dybnn"]
    broken = tmp_path / "build"
    shutil.copytree(build, broken, symlinks=True)
    top = next((broken / "rtl").glob("GlobalAccPool_rtl_0.v"))
    text = top.read_text()
    assert re.search(r"\.NPIX\(\d+\)", text)
    top.write_text(re.sub(r"\.NPIX\((\d+)\)", lambda m: f".NPIX({int(m.group(1)) * 1000})", text))
    out = run_cli("sim", "network", broken, "--images", "3", "--quiet", timeout=600)
    assert out.returncode == 1, out.stdout + out.stderr  # a failed check, not bad input
    assert "deadlock" in out.stderr and "stalled streams" in out.stderr, out.stderr
    assert "GlobalAccPool_rtl_0" in out.stderr or "DuplicateStreams" in out.stderr, out.stderr


def test_rtl_stage_refuses_hls_layers(small_runs, tmp_path):
    out = run_cli("build", small_runs["lab"] / "model.onnx", "--board", "pynq-z2", "--until", "rtl", "--backend", "hls",
                  "--out", tmp_path / "b")
    assert out.returncode == 2 and "needs every node in RTL" in out.stderr and "LabBinarizer_hls" in out.stderr


def test_sim_node_on_every_kind_of_node(rtl_builds, tmp_path):
    """`sim node` on one node of every op type the builds hold (real parameters, folding and
    inputs): each type where it first occurs (tfc, then the cnvs: sign, LAB, DyBNN)."""
    from bnnforge.finn_flow.simulate import reference
    from bnnforge.finn_flow.simulate.layer import run_node

    seen = {}
    for name in NETWORKS:
        _, build = rtl_builds[name]
        model, _ = reference.latest_model(build)
        for node in model.graph.node:
            seen.setdefault(node.op_type, (name, build, node.name))
    assert {"LabBinarizer_rtl", "DynamicThreshold_rtl", "MVAU_lut_rtl", "StreamingFIFO_rtl"} <= set(seen), seen
    assert len(seen) >= 8, seen
    for op, (name, build, node) in seen.items():
        run = run_node(build, node, images=2, stall=0.2, work_dir=tmp_path / node)
        assert run.mismatch is None, (name, node, run.mismatch)


def test_deployment_package_decodes_the_rtl_output(rtl_builds, tmp_path):
    """BUILD/deploy/driver.py (the board's code: packing, IODMA protocol, unpacking) on the pynq shim,
    whose DMAs are the Verilator simulation: the decoded outputs equal the golden model's; a driver
    that packs the bits of a beat in the wrong order is caught."""
    run, build = rtl_builds["sign"]
    deploy = build / "deploy"
    for f in ("driver.py", "validate.py", "io.json", "README.md", "testset.npz"):
        assert (deploy / f).exists(), f
    io = json.loads((deploy / "io.json").read_text())
    assert io["input"]["datatype"] == "UINT8" and io["channels_last"] and io["estimated_fps"] > 0
    out = run_cli("sim", "driver", build, "--run", run, "--images", "8", "--stall", "0.2", "--mem-latency", "100")
    assert out.returncode == 0 and "driver bit-exact: 8 images" in out.stdout, out.stdout + out.stderr
    out = run_cli("sim", "driver", build, "--validate", "--images", "12")
    assert out.returncode == 0 and re.search(r"accuracy\s+\d+/12 = ", out.stdout), out.stdout + out.stderr

    driver = deploy / "driver.py"
    good = driver.read_text()
    try:
        driver.write_text(good.replace('np.packbits(bits, axis=-1, bitorder="little")',
                                       'np.packbits(bits, axis=-1, bitorder="big")'))
        out = run_cli("sim", "driver", build, "--run", run, "--images", "4")
        assert out.returncode == 1 and "MISMATCH" in out.stdout, out.stdout + out.stderr
    finally:
        driver.write_text(good)


@pytest.mark.parametrize("dtype,simd", [("INT4", 5), ("UINT8", 3), ("INT2", 16), ("UINT1", 12)])
def test_driver_packing_is_finns_stream_packing(dtype, simd):
    """driver.py's bytes, cut into beats (little-endian, whole bytes each), are the beats FINN's
    packing gives the stream; unpacking inverts it."""
    import numpy as np
    from finn.util.data_packing import npy_to_rtlsim_input
    from qonnx.core.datatype import DataType

    from bnnforge.finn_flow.deploy.offboard import load_driver
    from bnnforge.finn_flow.deploy.package import ON_BOARD

    pynq_driver = load_driver(ON_BOARD)  # the board-side driver.py, as the package ships it
    dt = DataType[dtype]
    beats = 7
    spec = pynq_driver.StreamSpec({"bits": dt.bitwidth(), "signed": dt.signed(), "shape": [beats * simd],
                                   "simd": simd, "beats": beats, "beat_bytes": (simd * dt.bitwidth() + 7) // 8})
    x = np.random.default_rng(0).integers(int(dt.min()), int(dt.max()) + 1, (3, beats * simd))
    raw = spec.pack(x)
    assert raw.shape == (3, spec.frame_bytes) and raw.dtype == np.uint8
    got = [int.from_bytes(raw[f, b * spec.beat_bytes:(b + 1) * spec.beat_bytes].tobytes(), "little")
           for f in range(3) for b in range(beats)]
    want = [w for f in range(3) for w in npy_to_rtlsim_input(x[f].reshape(beats, simd).astype(np.float32), dt,
                                                              simd * dt.bitwidth())]
    assert got == want
    assert np.array_equal(spec.unpack(raw), x)
    with pytest.raises(ValueError, match="out of range"):
        spec.pack(x + int(dt.max()) + 1)



def test_equal_fifos_are_synthesized_once(rtl_builds, tmp_path, monkeypatch):
    """FINN names each FIFO's module after its node: the synthesis cache leaves the name out,
    so FIFOs that differ only in their names are synthesized once per network, and each still
    reports its own name."""
    import copy

    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.boards import load_board
    from bnnforge.finn_flow.rtl import synth
    from bnnforge.finn_flow.simulate import node as nodesim
    from bnnforge.finn_flow.simulate import reference

    _, build = rtl_builds["tfc"]
    fifos, _ = reference.latest_model(build, "rtl")
    fifos = copy.deepcopy(fifos)
    for node in [n for n in fifos.graph.node if n.op_type != "StreamingFIFO_rtl"]:
        fifos.graph.node.remove(node)
    nodes = list(fifos.graph.node)

    def kind(node):
        f = getCustomOp(node)
        return f.get_nodeattr("depth"), f.get_outstream_width_padded(), f.get_nodeattr("ram_style")  # (RTL: bytes)

    # the tuner's folding may give every FIFO the same depth and width: one is made deeper (and its
    # RTL generated anew), so the set always holds FIFOs alike and unalike
    deeper = getCustomOp(nodes[-1])
    deeper.set_nodeattr("depth", max(kind(n)[0] for n in nodes) + 6)
    nodesim.prepare(deeper, fifos, "rtl", tmp_path / "deeper")
    kinds = {kind(n) for n in nodes}
    assert len(nodes) > len(kinds) >= 2, kinds  # FIFOs alike and unalike: the case is the one meant
    synthesized = []
    real = synth.synth_node_of
    monkeypatch.setenv("BNNFORGE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(synth, "synth_node_of", lambda m, n, *a, **k: synthesized.append(n.name) or real(m, n, *a, **k))
    board = load_board("pynq-z2")
    result = synth.synth_nodes(fifos, board, work_dir=tmp_path / "synth")
    assert len(synthesized) == len(kinds) and list(result.layers) == [n.name for n in nodes]
    for node in nodes:
        alike = next(n for n in nodes if n.name in synthesized and kind(n) == kind(node))
        counts, first = result.layers[node.name], result.layers[alike.name]
        assert (counts.lut, counts.lutram, counts.ff, counts.critical_path_ns) == \
               (first.lut, first.lutram, first.ff, first.critical_path_ns)
        assert "@NODE@" not in json.dumps([counts.startpoint, counts.endpoint, counts.path])
    assert synth.synth_nodes(fifos, board, work_dir=tmp_path / "synth").layers == result.layers
    assert len(synthesized) == len(kinds)  # the second time, all from the cache


def test_one_fifo_that_must_keep_its_peak_does_not_hold_the_others():
    """The shrink step after the uniform scaling: a skip FIFO that deadlocks below its peak kept
    every FIFO of a reactnet at its peak (211 kbit at 1,000 fps); one by one, the others shrink
    as far as the throughput allows, and the skip FIFO and the shallow ones stay."""
    from bnnforge.finn_flow.rtl.sizing import FifoSize, _shrink_each, _Trial

    sizes = {"skip": FifoSize(8, 2, 4096, 1000, 1000), "wide": FifoSize(64, 2, 4096, 800, 800),
             "paced": FifoSize(8, 2, 4096, 640, 640), "shallow": FifoSize(8, 2, 64, 20, 20)}
    need = {"skip": 1000, "wide": 100, "paced": 300, "shallow": 20}  # what each needs for the throughput
    trials = []

    def try_depths(depths):
        trials.append(dict(depths))
        ok = all(depths[n] >= need[n] for n in need)
        return _Trial(100.0 if ok else 150.0, {})

    assert _shrink_each(try_depths, sizes, 100.0, lambda *_: None) is not None
    assert {n: s.depth for n, s in sizes.items()} == {"skip": 1000, "wide": 100, "paced": 320, "shallow": 20}
    assert trials[0]["wide"] < 800 and trials[0]["skip"] == 1000  # the most bits first
    assert not any(t["shallow"] != 20 for t in trials)  # a shift register is not worth a trial
