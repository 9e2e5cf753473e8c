"""`bnnforge fold`: folding that meets targets, fits budgets, is applied as is by `build`."""

import copy
import json
import math

import numpy as np
import pytest

from bnnforge.boards import load_board

from conftest import run_cli


@pytest.fixture(scope="module")
def lab_model(small_runs):
    return small_runs["lab"] / "model.onnx"


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_fold_target_is_met_when_applied_by_build(lab_model, tmp_path, board):
    folding = tmp_path / "folding.json"
    out = run_cli("fold", lab_model, "--board", board, "--target-fps", "3000", "--out", folding, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["fps"] >= 3000
    b = load_board(board)
    assert summary["LUT"] <= 0.8 * b.resources["LUT"] and summary["BRAM_18K"] <= 0.8 * b.bram18
    cfg = json.loads(folding.read_text())
    assert any(k.startswith("LabBinarizer") for k in cfg) and any(k.startswith("MVAU") for k in cfg)

    # FINN recomputes the estimates after `build --folding` applies the file as is
    build = run_cli("build", lab_model, "--board", board, "--folding", folding, "--until", "estimate",
                    "--out", tmp_path / "build")
    assert build.returncode == 0, build.stdout + build.stderr
    perf = json.loads((tmp_path / "build" / "report" / "estimate_network_performance.json").read_text())
    res = json.loads((tmp_path / "build" / "report" / "estimate_layer_resources.json").read_text())
    assert perf["estimated_throughput_fps"] >= 3000
    assert res["total"]["LUT"] == pytest.approx(summary["LUT"])
    assert res["total"]["BRAM_18K"] == pytest.approx(summary["BRAM_18K"])


def test_fold_max_fps_fits_and_is_deterministic(lab_model, tmp_path):
    runs = []
    for i in range(2):
        f = tmp_path / f"f{i}.json"
        out = run_cli("fold", lab_model, "--board", "pynq-z2", "--max-fps", "--util", "0.25", "--out", f, "--json",
                      *(["--plot", tmp_path / "pareto.png"] if i == 0 else []))
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout)
        summary.pop("folding")  # the output path
        runs.append((summary, f.read_text()))
    (s0, cfg0), (s1, cfg1) = runs
    assert cfg0 == cfg1 and s0 == s1  # deterministic
    b = load_board("pynq-z2")
    # the budget holds the layers and the width converters and FIFOs they bring
    assert s0["total"]["LUT"] <= 0.25 * b.resources["LUT"] and s0["total"]["BRAM_18K"] <= 0.25 * b.bram18
    assert s0["total"]["LUT"] == pytest.approx(s0["LUT"] + sum(p["LUT"] for p in s0["plumbing"]))
    assert any(p["op"].startswith("StreamingDataWidthConverter") for p in s0["plumbing"])
    assert (tmp_path / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a larger budget never gives a slower design
    out = run_cli("fold", lab_model, "--board", "pynq-z2", "--max-fps", "--util", "0.8", "--out", tmp_path / "g.json",
                  "--json")
    assert json.loads(out.stdout)["fps"] >= s0["fps"]


def test_fold_infeasible_requests_are_explained(lab_model, tmp_path):
    out = run_cli("fold", lab_model, "--board", "pynq-z2", "--target-fps", "1e9", "--out", tmp_path / "x.json")
    assert out.returncode == 2
    assert "cannot reach" in out.stderr and "cycles/frame" in out.stderr and "limits:" in out.stderr
    assert "the most this network reaches" in out.stderr
    out = run_cli("fold", lab_model, "--board", "pynq-z2", "--max-fps", "--util", "0.001", "--out", tmp_path / "y.json")
    assert out.returncode == 2 and "does not fit" in out.stderr


def test_fold_objectives_take_the_cheapest_option_of_every_layer(lab_model):
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow.flow.graph_cache import prepared_graph
    from bnnforge.finn_flow.folding import optimizer as fold

    board = load_board("pynq-z2")
    model = prepared_graph(lab_model, board, board.clock_ns)
    # only hardware layers, as in the build's dataflow partition (FINN's analyses need that)
    assert all(n.domain.startswith("finn.custom_op.fpgadataflow") for n in model.graph.node)
    first = model.graph.node[0]
    assert model.graph.input[0].name == first.input[0]
    assert model.get_tensor_shape(first.input[0]) == list(getCustomOp(first).get_normal_input_shape())
    groups = fold.build_groups(model, board.part)
    target = int(1e9 / board.clock_ns / 3000)
    costs = {  # a window generator's option includes the width converter to its consumer
        "cost": lambda o: o.cost_lut / board.resources["LUT"] + o.bram / board.bram18,
        "lut": lambda o: o.cost_lut,
    }
    for objective, cost in costs.items():
        chosen = fold.for_target(groups, board, board.clock_ns, 3000, objective=objective)
        assert chosen.cycles <= target
        for group, option in zip(groups, chosen.choice):
            feasible = [o for o in group.options if o.cycles <= target]
            assert cost(option) == pytest.approx(min(cost(o) for o in feasible)), (objective, group.nodes)
    with pytest.raises(fold.FoldingError, match="allowed cost, lut"):
        fold.for_target(groups, board, board.clock_ns, 3000, objective="dsp")


@pytest.mark.parametrize("fps", [300, 3000])
def test_window_width_converters_are_costed_as_the_build_inserts_them(lab_model, fps):
    """A sliding-window generator and its consumer are folded together, and the width converter
    the rtl stage puts between them (when their beats differ) is part of the option's cost: a
    parallel window into a layer of small SIMD is a wide downsizer (a reactnet at 1,000 fps had
    8.8k of its 17k LUT in them). The optimizer's figure is what the build inserts."""
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow.flow.graph_cache import prepared_graph
    from bnnforge.finn_flow.flow.transforms import insert_width_converters_and_fifos
    from bnnforge.finn_flow.folding import optimizer as fold
    from bnnforge.finn_flow.folding.config import apply_folding

    board = load_board("pynq-z2")
    model = prepared_graph(lab_model, board, board.clock_ns)
    groups = fold.build_groups(model, board.part)
    chosen = fold.for_target(groups, board, board.clock_ns, fps)
    pairs = [(g, o) for g, o in zip(groups, chosen.choice) if len(g.nodes) == 2]
    assert pairs and any(o.window_dwc_lut > 0 for g, _ in pairs for o in g.options)
    built = insert_width_converters_and_fifos(apply_folding(copy.deepcopy(model), chosen.config()), board.part)
    for group, option in pairs:
        generator, consumer = group.nodes
        node, dwc = built.get_node_from_name(generator), 0.0
        while True:  # from the generator through the inserted plumbing to its consumer
            node = built.find_consumer(node.output[0])
            if node.name == consumer:
                break
            if "DataWidthConverter" in node.op_type:
                dwc += getCustomOp(node).lut_estimation(board.part)
        assert option.window_dwc_lut == pytest.approx(dwc, abs=1), (group.nodes, option.attrs)


def test_pixel_layer_weights_are_one_bit(lab_model):
    """The first layer's +-1 weights over 8-bit pixels are BIPOLAR after minimize_bit_width (FINN
    alone picks INT2, whose low bit is always 1: twice the weight memory) and its ROM holds one
    bit per weight. (That the RTL computes with them exactly: test_layers_rtl's MVAU/pixels_bipolar
    and test_network_rtl's whole networks.)"""
    from qonnx.custom_op.registry import getCustomOp

    from bnnforge.finn_flow.flow.graph_cache import prepared_graph

    board = load_board("pynq-z2")
    hw = prepared_graph(lab_model, board, board.clock_ns)  # cached by the fold runs above
    mvaus = [(n, getCustomOp(n)) for n in hw.graph.node if n.op_type.startswith("MVAU")]
    pixels = [(n, m) for n, m in mvaus if m.get_input_datatype(0).name == "UINT8"]
    assert pixels, [m.get_input_datatype(0).name for _, m in mvaus]
    for node, m in pixels:
        assert m.get_input_datatype(1).name == "BIPOLAR"
        assert set(np.unique(hw.get_initializer(node.input[1]))) == {-1, 1}
        width, _ = m._rom_shape()
        assert width == m.get_nodeattr("PE") * m.get_nodeattr("SIMD")


def test_fold_plumbing_and_timing_are_what_the_build_gets(tfc_run, tmp_path):
    """fold counts the width converters and FIFOs the rtl stage inserts, and its timing
    estimate (--raise-clock) is the one the build's rtl stage makes of the same RTL: the clock
    it raises to is met there; a clock faster than the estimate is a warning naming the layer."""
    from bnnforge.boards import load_board
    from bnnforge.finn_flow import registry
    from bnnforge.finn_flow.flow.build import FlowOptions
    from bnnforge.finn_flow.flow.steps import StepContext, step_timing_estimate
    from bnnforge.finn_flow.folding.timing import CLOCK_STEP_NS, RAISE_MARGIN
    from bnnforge.finn_flow.simulate import reference

    folding = tmp_path / "folding.json"
    out = run_cli("fold", tfc_run / "model.onnx", "--board", "pynq-z2", "--max-fps", "--util", "0.1", "--raise-clock",
                  "--out", folding, "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    timing, clock = summary["timing"], summary["clock_ns"]
    # the tuner's fastest tfc reaches the board clock by the estimate, and the clock is raised to what it allows
    assert timing["critical_path_ns"] * RAISE_MARGIN <= 10.0 and timing["meets_clock"]
    assert clock == math.ceil(timing["critical_path_ns"] * RAISE_MARGIN / CLOCK_STEP_NS) * CLOCK_STEP_NS < 10.0
    assert summary["fps"] == pytest.approx(1e9 / clock / summary["cycles"])
    assert any(n.startswith("--raise-clock: clock raised") for n in summary["notes"])

    build = tmp_path / "build"
    res = run_cli("build", tfc_run / "model.onnx", "--board", "pynq-z2", "--folding", folding, "--clock-ns", clock,
                  "--until", "rtl", "--fifo-sizing", "minimal", "--out", build)
    assert res.returncode == 0, res.stdout + res.stderr
    model, _ = reference.latest_model(build, "rtl")
    inserted = {(n.name, n.op_type) for n in model.graph.node if registry.is_plumbing(n)}
    assert {(p["node"], p["op"]) for p in summary["plumbing"]} == inserted
    assert any(op.startswith("StreamingDataWidthConverter") for _, op in inserted)
    report = json.loads((build / "report" / "timing_estimate.json").read_text())
    assert set(report["layers"]) == {n.name for n in model.graph.node}
    assert (report["fmax_mhz"], report["slowest_layer"]) == (timing["fmax_mhz"], timing["slowest_layer"])
    slowest = min(report["layers"].items(), key=lambda kv: kv[1]["fmax_mhz"])
    assert report["fmax_mhz"] == slowest[1]["fmax_mhz"] and report["meets_clock"]
    assert "estimated Fmax" in res.stdout and "meets the" in res.stdout
    synth = run_cli("sim", "synth", "--network", build, "--json")
    assert synth.returncode == 0, synth.stderr
    assert json.loads(synth.stdout)["total"]["fmax_mhz"] == report["fmax_mhz"]

    # the same design against a clock faster than its estimate (its cached synthesis reused)
    lines = []
    fast = report["critical_path_ns"] * 0.9
    step_timing_estimate(model, StepContext(FlowOptions(board=load_board("pynq-z2"), clock_ns=fast), build, lines.append))
    slow = json.loads((build / "report" / "timing_estimate.json").read_text())
    assert slow["meets_clock"] is False and slow["fmax_mhz"] == report["fmax_mhz"]
    assert any(ln.strip().startswith("WARNING: estimated Fmax") and report["slowest_layer"] in ln for ln in lines)

    # the nodes keep their names through the insertion (their generated code is named after them),
    # also when the graph order and the names' numbering disagree (InsertDWC sorts the graph, and
    # FINN's SpecializeLayers renumbered every layer type in graph order: a residual network's
    # MVAU_lut_rtl_7 held MVAU_lut_rtl_8's code)
    from qonnx.core.modelwrapper import ModelWrapper

    from bnnforge.finn_flow.flow.transforms import insert_width_converters_and_fifos

    codegen = ModelWrapper(str(next((build / "intermediate_models").glob("*_codegen.onnx"))))
    mvaus = [n for n in codegen.graph.node if n.op_type.startswith("MVAU")]
    assert len(mvaus) >= 2
    for node, name in zip(mvaus, reversed([n.name for n in mvaus])):
        node.name = name
    names = [n.name for n in mvaus]
    after = insert_width_converters_and_fifos(codegen, load_board("pynq-z2").part)
    # a chain: the MVAUs' order stays, and each keeps the name it came with (here not graph order)
    assert [n.name for n in after.graph.node if n.op_type.startswith("MVAU")] == names
    assert len({n.name for n in after.graph.node}) == len(after.graph.node)
