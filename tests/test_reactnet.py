"""The residual (ReActNet-style) BNN: training steps, the integer form against the float eval
forward, the golden model against the QONNX export, and DyBNN's dynamic RPReLU (small widths)."""

import json

import numpy as np
import pytest
import torch

from bnnforge.model import golden
from bnnforge.model.export import build_qonnx, execute_qonnx
from bnnforge.model.integer import IntConv, IntDynamicRPReLU, IntResidual, monotone_thresholds
from bnnforge.model.layers import quant_levels
from bnnforge.model.quant import signed_range
from bnnforge.model.run import TrainConfig, load_model
from bnnforge.model.train import model_config_for, train
from bnnforge.model.zoo import ModelConfig, build_model

from conftest import run_cli

BINARIZERS = ("sign", "lab", "dybnn")


def _randomize(model, seed=0):
    """Non-trivial RPReLU / RSign / DyBNN parameters (freshly built ones are the identity-like init)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for block in model.blocks:
            r = block.rprelu
            r.gamma.copy_(0.3 * torch.randn(r.gamma.shape, generator=g))
            r.zeta.copy_(0.3 * torch.randn(r.zeta.shape, generator=g))
            r.slope.copy_(torch.rand(r.slope.shape, generator=g) * 0.6 - 0.1)  # some negative: clamped to 0
            if hasattr(block.binarizer, "shift"):
                block.binarizer.shift.copy_(0.3 * torch.randn(block.binarizer.shift.shape, generator=g))
            for hyper in [m for m in (block.shift, block.binarizer) if hasattr(m, "fc2")]:  # DyBNN hyper functions
                hyper.fc2.weight.copy_(torch.randn(hyper.fc2.weight.shape, generator=g))
                hyper.fc2.bias.copy_(0.5 * torch.randn(hyper.fc2.bias.shape, generator=g))


def calibrated(dataset, binarizer, act_bits=3, width=0.125, blocks=1, seed=0):
    """A tiny reactnet with random parameters, BN statistics and quantizer scales from real images."""
    torch.manual_seed(seed)
    model = build_model(model_config_for(dataset, arch="reactnet", binarizer=binarizer, width=width, blocks=blocks,
                                         act_bits=act_bits))
    _randomize(model, seed)
    model.train()
    with torch.no_grad():
        for i in range(3):
            model(dataset.x_train[32 * i:32 * (i + 1)].float())
    return model.eval()


@pytest.fixture(scope="module")
def fashion():
    from bnnforge.model.data import load_dataset

    return load_dataset("fashion-mnist")


@pytest.fixture(scope="module")
def reactnet_runs(tmp_path_factory, digits):
    """Tiny reactnets (sign, LAB, DyBNN) trained briefly on digits with `train`, exported."""
    from bnnforge.model.export import export_run

    runs = {}
    for binarizer in BINARIZERS:
        run_dir = tmp_path_factory.mktemp(f"reactnet-{binarizer}")
        cfg = model_config_for(digits, arch="reactnet", binarizer=binarizer, width=0.125, blocks=1, act_bits=3)
        train(run_dir, cfg, TrainConfig(dataset="digits", epochs=1, subset=100, batch_size=50), dataset=digits,
              progress=False, log=lambda *_: None)
        export_run(run_dir, n_vectors=2)
        runs[binarizer] = run_dir
    return runs


# --- training --------------------------------------------------------------------------


@pytest.mark.parametrize("binarizer", BINARIZERS)
def test_training_steps_reduce_loss(digits, binarizer):
    torch.manual_seed(0)
    model = build_model(model_config_for(digits, arch="reactnet", binarizer=binarizer, width=0.125, blocks=1))
    x, y = digits.x_train[:32].float(), digits.y_train[:32]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in range(16):  # an identity block's input quantizer learns its scale after 15 steps (30 calls)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3]), losses
    grads = {n: p.grad for n, p in model.named_parameters()}
    for key in ("rprelu.gamma", "rprelu.zeta", "rprelu.slope", "conv.weight", "in_quant"):
        assert any(key in n and g is not None and g.abs().sum() > 0 for n, g in grads.items()), key
    if binarizer == "dybnn":  # the dynamic RPReLU shift is trained
        assert any("shift.fc1" in n and g is not None and g.abs().sum() > 0 for n, g in grads.items())


def test_trained_runs_write_metrics(reactnet_runs):
    for binarizer, run in reactnet_runs.items():
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["model"]["arch"] == "reactnet" and metrics["model"]["blocks"] == 1, binarizer
        assert len(metrics["history"]) == 1 and 0 <= metrics["test_accuracy"] <= 1


# --- integer form ------------------------------------------------------------------------


def _block_inputs_of_float_forward(model, x):
    """The integers each block's in_quant (and the head's out_quant) sees first in the float eval forward."""
    seen = []

    def hook(module, inputs, out):
        if module not in [m for m, _ in seen]:
            seen.append((module, torch.round(out.value / out.scale).detach().numpy().astype(np.int64)))

    quants = [b.in_quant for b in model.blocks] + [model.out_quant]
    handles = [q.register_forward_hook(hook) for q in quants]
    with torch.no_grad():
        logits = model.float_forward(x)
    for h in handles:
        h.remove()
    return [v for _, v in seen], logits


@pytest.mark.parametrize("binarizer", BINARIZERS)
def test_integer_form_equals_eval_forward(fashion, binarizer):
    """model(x) in eval mode is the integer form; block by block, on the float eval forward's
    quantized block input, the integer binarizer gives the float binarizer's bits (LAB: all of
    them) and the rest of the integer block the float forward's next quantized input (float32
    vs float64 may differ at exact ties only: at most 0.1 % of the elements, by one step)."""
    model = calibrated(fashion, binarizer)
    x = fashion.x_test[:24].float()
    net = model.to_integer()
    ref = golden.forward(net, x.numpy())
    with torch.no_grad():
        assert torch.equal(model(x), torch.from_numpy(ref["fc_out"]).float())
    tor = net.torch_forward(x, keep_all=True)
    assert set(tor) == set(ref)
    for name in ref:
        assert np.array_equal(tor[name].numpy(), ref[name]), name
    float_inputs, logits = _block_inputs_of_float_forward(model, x)
    assert np.array_equal(float_inputs[0], ref["stem_act"])
    blocks = [layer for layer in net.layers if isinstance(layer, IntResidual)]
    for module, block, q_in, q_out in zip(model.blocks, blocks, float_inputs[:-1], float_inputs[1:]):
        with torch.no_grad():
            s = module.in_quant.act_quant.scale()
            b_float = module.binarizer.binarize(torch.from_numpy(q_in).float() * s, s).numpy().astype(np.int64)
        b_int = golden.layer_forward(block.binarizer, q_in)
        if binarizer == "lab":  # LAB's float forward snaps z onto its integer grid: ties included
            assert np.array_equal(b_float, b_int), block.name
        else:
            assert np.mean(b_float == b_int) >= 0.999, block.name
        got = _rest_of_block(block, q_in, b_float)
        assert np.mean(got == q_out) >= 0.999 and np.abs(got - q_out).max() <= 1, block.name
    # the logits are the integer logits times a positive scale
    scale = float(model.out_scale) * float(model.out_quant.act_quant.scale()) / (x.shape[2] // 4) ** 2
    int_logits = golden.layer_forward(net.layers[-1], golden.global_sum(float_inputs[-1]))
    assert np.allclose(logits.numpy(), scale * int_logits, rtol=1e-4, atol=1e-4)


def _rest_of_block(block, x, b):
    """The integer block after its binarizer, from the bits ``b``."""
    y = golden.layer_forward(block.conv_act, golden.layer_forward(block.conv, b))
    shortcut = x if block.down is None else golden.layer_forward(block.down_act, golden.layer_forward(block.down, x))
    return golden.layer_forward(block.act, y + shortcut)


def test_shortcut_and_conv_branch_share_one_grid(fashion):
    """Both addends of every Add are integers on one scale: identity blocks quantize the conv
    branch with the block's input quantizer, downsampling blocks both branches with sum_quant."""
    model = calibrated(fashion, "sign", blocks=2)
    net = model.to_integer()
    for block, layer in zip(model.blocks, [lay for lay in net.layers if isinstance(lay, IntResidual)]):
        grid = block.in_quant if layer.down is None else block.sum_quant
        levels, bias = quant_levels(float(grid.act_quant.scale()), block.act_bits)
        for act in [layer.conv_act] + ([layer.down_act] if layer.down is not None else []):
            assert act.out_bias == bias == signed_range(block.act_bits)[0]
        assert (layer.down is None) == (block.conv.stride[0] == 1)
    kinds = [(lay.down is None, lay.conv.stride) for lay in net.layers if isinstance(lay, IntResidual)]
    assert kinds == [(True, 1), (True, 1), (False, 2), (True, 1), (False, 2), (True, 1)]


def test_rprelu_thresholds_are_the_quantized_function():
    """monotone_thresholds on RPReLU + requantization equals evaluating the function on every integer."""
    rng = np.random.default_rng(0)
    for trial in range(20):
        c, s, s_out, bits = 5, rng.uniform(0.05, 1), rng.uniform(0.05, 1), int(rng.integers(2, 6))
        gamma, zeta, slope = rng.normal(0, 1, (3, c, 1))
        slope = np.abs(slope) * (trial % 2)  # slope 0 (ReLU-like) and positive

        def f(z):
            u = s * z[None, :] - gamma
            return np.where(u >= 0, u, slope * u) + zeta

        lo, hi = signed_range(bits + 1)
        levels, out_bias = quant_levels(s_out, bits)
        t = monotone_thresholds(f, lo, hi, levels)
        z = np.arange(lo, hi + 1)
        qmin, qmax = signed_range(bits)
        want = np.clip(np.floor(f(z.astype(float)) / s_out + 0.5), qmin, qmax)
        assert np.array_equal(golden.multithreshold(np.tile(z, (c, 1))[None], t, out_bias)[0], want)
    with pytest.raises(ValueError, match="not monotone"):
        monotone_thresholds(lambda z: -np.stack([z, z]), -4, 3, [0.0])


# --- DyBNN's dynamic RPReLU ----------------------------------------------------------------


def test_dynamic_rprelu_golden_equals_integer_form_and_float(fashion):
    """The hyper branch's integer offsets match the float module's (ties aside); the golden
    dynamic RPReLU equals the torch integer form, and a direct float64 evaluation of the
    quantized RPReLU at the shifted input."""
    model = calibrated(fashion, "dybnn")
    net = model.to_integer()
    x = fashion.x_test[:32].float()
    ref = golden.forward(net, x.numpy())
    tor = net.torch_forward(x, keep_all=True)
    float_inputs, _ = _block_inputs_of_float_forward(model, x)
    for i, (block, layer) in enumerate(zip(model.blocks, net.layers[2:])):
        act = layer.act
        assert isinstance(act, IntDynamicRPReLU) and act.thresholds.shape[1] == 2 ** block.act_bits - 1
        z = ref[layer.add_name]
        off = ref[f"{layer.name}_offsets"]
        assert np.array_equal(tor[f"{layer.name}_offsets"].numpy(), off)
        assert np.array_equal(golden.dynamic_rprelu(z, off, act.thresholds, act.out_bias), ref[layer.name])
        grid = block.in_quant if block.down is None else block.sum_quant
        s = float(grid.act_quant.scale())
        with torch.no_grad():
            off_float = block.shift.offsets(torch.from_numpy(z).float() * s, torch.tensor(s)).numpy()
        assert np.mean(off_float == off) >= 0.99 and np.abs(off_float - off).max() <= 1
        assert len(np.unique(off)) > 1  # the offsets really vary
        # direct evaluation: round(f(s*(z - off)) / s_next), clipped
        r = block.rprelu
        gamma = r.gamma.detach().double().numpy()[None, :, None, None]
        zeta = r.zeta.detach().double().numpy()[None, :, None, None]
        slope = r.slope.detach().clamp(min=0).double().numpy()[None, :, None, None]
        u = s * (z - off[:, :, None, None]) - gamma
        s_next = float(([b.in_quant for b in model.blocks[1:]] + [model.out_quant])[i].act_quant.scale())
        qmin, qmax = signed_range(block.act_bits)
        want = np.clip(np.floor((np.where(u >= 0, u, slope * u) + zeta) / s_next + 0.5), qmin, qmax)
        assert np.mean(want == ref[layer.name]) >= 0.999
        # the next block's (or the head's) float forward sees the same integers
        assert np.mean(float_inputs[i + 1] == ref[layer.name]) >= 0.999


# --- QONNX export -----------------------------------------------------------------------------


def _export_equals_golden(net, x):
    ref = golden.forward(net, x)
    q = execute_qonnx(build_qonnx(net), x)
    for name in ref:
        assert name in q, name
        assert np.array_equal(q[name], ref[name]), name
    return q


@pytest.mark.parametrize("binarizer", BINARIZERS)
def test_export_equals_golden_on_real_and_random_images(reactnet_runs, digits, binarizer):
    model, _, _ = load_model(reactnet_runs[binarizer])
    net = model.to_integer()
    rng = np.random.default_rng(1)
    x = np.concatenate([digits.x_test[:2].numpy(), rng.integers(0, 256, (2, 1, 32, 32)).astype(np.uint8)])
    _export_equals_golden(net, x)


@pytest.mark.parametrize("binarizer,act_bits", [("dybnn", 2), ("lab", 4)])
def test_export_equals_golden_28x28(fashion, binarizer, act_bits):
    """28x28 (7x7 after two stride-2 blocks), other act_bits, randomized RPReLU/DyBNN parameters."""
    net = calibrated(fashion, binarizer, act_bits=act_bits).to_integer()
    q = _export_equals_golden(net, fashion.x_test[:2].numpy())
    assert q["fc_out"].shape == (2, 10)


def test_export_node_pattern_of_a_block(fashion):
    """The node sequence docs/SPEC.md section 7 promises for one block and the dynamic RPReLU."""
    model = build_qonnx(calibrated(fashion, "dybnn").to_integer())
    producer = {n.output[0]: n for n in model.graph.node}

    def chain(tensor, n):
        ops = []
        for _ in range(n):
            node = producer[tensor]
            ops.append(node.op_type)
            tensor = node.input[0]
        return ops[::-1]

    assert chain("block2", 3) == ["Add", "Sub", "MultiThreshold"]
    assert list(producer["block2_add"].input) == ["block2_conv_act", "block2_down_act"]
    assert chain("block2_conv_act", 4) == ["MultiThreshold", "Pad", "Conv", "MultiThreshold"]
    assert producer["block2_conv_act"].input[0] == "block2_conv"
    assert chain("block2_down_act", 2) == ["Conv", "MultiThreshold"]
    assert producer["block2_down"].input[0] == "block1"  # the 2x2 stride-2 conv reads the integer input
    assert list(producer["block1_add"].input) == ["block1_conv_act", "stem_act"]  # identity shortcut
    assert list(producer["block2_diff"].input) == ["block2_add", "block2_offsets_nchw"]
    assert chain("block2_offsets_nchw", 6) == ["ReduceSum", "MatMul", "MultiThreshold", "MatMul", "MultiThreshold",
                                               "Reshape"]
    assert producer["block2_sum"].input[0] == "block2_add" and producer["block2"].input[0] == "block2_diff"
    pad = producer["block2_conv_padded"]
    assert model.get_initializer(pad.input[2]) == -1
    assert model.get_tensor_datatype("block2").name == "INT3"
    assert model.get_tensor_datatype("block2_add").name == "INT4"
    assert model.get_tensor_datatype("block2_conv_padded").name == "BIPOLAR"
    assert [n.op_type for n in model.graph.node][-2:] == ["ReduceSum", "MatMul"]


def test_corrupted_rprelu_thresholds_are_caught(reactnet_runs, digits):
    model, _, _ = load_model(reactnet_runs["sign"])
    net = model.to_integer()
    qmodel = build_qonnx(net)
    name = "block1_param_thresholds"
    qmodel.set_initializer(name, qmodel.get_initializer(name) + 1)  # RPReLU stage off by one
    x = digits.x_test[:2].numpy()
    q, ref = execute_qonnx(qmodel, x), golden.forward(net, x)
    assert not np.array_equal(q["block1"], ref["block1"])


# --- configuration and bad inputs -------------------------------------------------------------


def test_bad_configs_give_clear_errors():
    with pytest.raises(ValueError, match="reactnet only"):
        ModelConfig(arch="cnv", blocks=2).validate()
    with pytest.raises(ValueError, match="1..16"):
        ModelConfig(arch="reactnet", blocks=0).validate()
    for size in (4, 30):
        with pytest.raises(ValueError, match="at least 8x8 pixels, a multiple of 4"):
            ModelConfig(arch="reactnet", in_size=size).validate()
    with pytest.raises(ValueError, match="act_bits"):
        ModelConfig(arch="reactnet", act_bits=9).validate()
    with pytest.raises(ValueError, match="padding value"):
        IntConv("c", np.ones((1, 1, 3, 3), int), 1, pad_value=-1).out_range(0, 255)


def test_cli_train_export_verify(tmp_path, digits):
    run = tmp_path / "run"
    out = run_cli("train", "--arch", "reactnet", "--binarizer", "lab", "--depth", "1", "--width", "0.125",
                  "--act-bits", "3", "--dataset", "digits", "--epochs", "1", "--subset", "100", "--batch-size", "50",
                  "--quiet", "--out", run)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads((run / "config.json").read_text())["model"]["blocks"] == 1
    out = run_cli("verify", run, "--samples", "2", "--columns")
    assert out.returncode == 0 and "BIT-EXACT" in out.stdout and "block2_add" in out.stdout, out.stdout + out.stderr
    out = run_cli("train", "--arch", "reactnet", "--blocks", "0", "--dataset", "digits", "--out", tmp_path / "r")
    assert out.returncode == 2 and "blocks" in out.stderr
