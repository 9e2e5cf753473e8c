"""bnnforge.model: binarizers, integer form, golden model, training, export, verify."""

import copy
import json

import numpy as np
import pytest
import torch

from bnnforge.model import golden
from bnnforge.model.data import load_dataset
from bnnforge.model.export import build_qonnx, execute_qonnx
from bnnforge.model.integer import int_thresholds
from bnnforge.model.layers import LAB, DynamicRPReLU, DynamicThreshold
from bnnforge.model.quant import LabSign, sign_ste
from bnnforge.model.run import load_model
from bnnforge.model.train import model_config_for, train
from bnnforge.model.run import TrainConfig
from bnnforge.model.zoo import ModelConfig, build_model

from conftest import run_cli


# --- gradients ---------------------------------------------------------------------


def _grads_after_backward(module, x):
    out = module(x)
    (out * torch.randn_like(out)).sum().backward()
    return {n: p.grad for n, p in module.named_parameters()}


def test_lab_gradients_reach_kernel_bias_and_beta():
    torch.manual_seed(0)
    lab = LAB(6)
    grads = _grads_after_backward(lab, torch.randn(4, 6, 7, 5))
    for name in ("kernel.weight", "bias", "beta"):
        assert grads[name] is not None and grads[name].abs().sum() > 0, name
    # the input quantizer's learned scale is trained too
    scale_params = [n for n in grads if "input_quant" in n]
    assert scale_params and all(grads[n] is not None for n in scale_params)


def test_dybnn_gradients_reach_hyper_function():
    torch.manual_seed(0)
    dt = DynamicThreshold(8, reduction=4)
    grads = _grads_after_backward(dt, torch.randn(4, 8, 6, 6))
    for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
        assert grads[name] is not None and grads[name].abs().sum() > 0, name


def test_dynamic_rprelu_gradients():
    torch.manual_seed(0)
    layer = DynamicRPReLU(8)
    grads = _grads_after_backward(layer, torch.randn(3, 8, 5, 5))
    assert all(g is not None and g.abs().sum() > 0 for g in grads.values()), grads.keys()


def test_lab_surrogate_gradient_matches_spec():
    z = torch.tensor([-1.5, -0.2, 0.0, 0.7], requires_grad=True)
    beta = torch.tensor(2.0, requires_grad=True)
    LabSign.apply(z, beta).sum().backward()
    t = torch.tanh(beta.detach() * z.detach() / 2)
    assert torch.allclose(z.grad, 2.0 * (1 - t**2) / 2)
    assert torch.allclose(beta.grad, (z.detach() * (1 - t**2) / 2).sum())


# --- tie rules -------------------------------------------------------------------


def test_tie_rules():
    assert sign_ste(torch.tensor([0.0])).item() == 1.0  # sign: tie gives +1
    assert LabSign.apply(torch.tensor([0.0]), torch.tensor(1.0)).item() == -1.0  # LAB: tie gives -1
    x = np.array([[[[3]]]])
    assert golden.lab_binarizer(x, np.ones((1, 3, 3), int), np.array([3]))[0, 0, 0, 0] == 1  # acc >= T
    assert golden.lab_binarizer(x, np.ones((1, 3, 3), int), np.array([4]))[0, 0, 0, 0] == -1
    assert golden.dynamic_threshold(x, np.array([[3]]))[0, 0, 0, 0] == 1  # x >= T: tie +1
    assert golden.dynamic_threshold(x, np.array([[4]]))[0, 0, 0, 0] == -1


def test_lab_integer_threshold_gives_minus_one_at_tie():
    """Where acc + q_u == 0 (z == 0 exactly) the integer LAB outputs -1, and +1 one step above."""
    torch.manual_seed(1)
    lab = LAB(2).eval()
    with torch.no_grad():
        lab.bias.copy_(torch.tensor([0.0, 0.3]))
        acc_scale = lab.input_quant.act_quant.scale().reshape(()) * lab.kernel.quant_weight().scale.reshape(-1)
        q_u = lab._bias_int(acc_scale).to(torch.int64).numpy()  # the bias on the accumulator grid
    assert q_u[1] != 0
    core = lab.integer_core("lab", 9)
    weights = np.zeros_like(core.weights)
    weights[:, 1, 1] = 1  # centre tap only: acc = x at the pixel
    x = np.zeros((2, 2, 3, 3), np.int64)
    x[0, :, 1, 1] = -q_u  # the exact tie acc + q_u == 0
    x[1, :, 1, 1] = -q_u + 1
    out = golden.lab_binarizer(x, weights, core.thresholds)
    assert (out[0, :, 1, 1] == -1).all() and (out[1, :, 1, 1] == 1).all()


# --- integer form vs float forward -------------------------------------------------


def test_int_thresholds_brute_force():
    rng = np.random.default_rng(0)
    a = np.abs(rng.normal(size=6)) + 0.01
    a[0] = 0.0
    b = rng.normal(size=6) * 5
    levels = np.sort(rng.normal(size=(6, 5)) * 5, axis=1)
    acc = np.arange(-40, 41)
    for strict in (False, True):
        t = int_thresholds(a, b, levels, -40, 40, strict=strict)
        y = a[:, None, None] * acc[None, None, :] + b[:, None, None]
        want = (y > levels[:, :, None]) if strict else (y >= levels[:, :, None])
        got = acc[None, None, :] >= t[:, :, None]
        assert np.array_equal(got, want)


def test_lab_float_forward_equals_integer_form_ties_included():
    """The training forward binarizes exactly as the hardware: also at the exact ties
    (acc + q_u == 0, frequent with small integer kernels), which the float conv's rounding
    would otherwise decide at random."""
    torch.manual_seed(0)
    lab = LAB(5, kernel_size=3)
    lab.train()
    for _ in range(3):  # let the input quantizer collect its statistics
        lab(torch.randn(8, 5, 9, 7))
    with torch.no_grad():
        lab.bias.copy_(torch.randn(5) * 0.3)
        lab.beta.fill_(-0.7)  # negative beta: its sign must fold into weights and thresholds
    lab.eval()
    y = torch.randn(16, 5, 9, 7)
    with torch.no_grad():
        out_float = lab(y).numpy()
        scale = lab.input_quant.act_quant.scale()
        q = torch.clamp(torch.round(y / scale), -8, 7).numpy().astype(np.int64)
    core = lab.integer_core("lab", 63)
    out_int = golden.lab_binarizer(q, core.weights, core.thresholds)
    acc = golden.conv2d(q, core.weights[:, None], pad=1, groups=5)
    tie = acc == core.thresholds[None, :, None, None] - 1  # acc + q_u' == 0 is the exact tie
    assert 0 < tie.mean() < 0.2
    assert np.array_equal(out_float, out_int)
    assert (out_int[tie] == -1).all()


def test_dybnn_thresholds_match_float_hyper_function():
    torch.manual_seed(0)
    dt = DynamicThreshold(12, reduction=4)
    dt.train()
    for _ in range(3):
        dt(torch.randn(8, 12, 6, 6))
    with torch.no_grad():
        dt.fc2.weight.normal_(0, 0.5)
        dt.fc2.bias.normal_(0, 0.3)
    dt.eval()
    y = torch.randn(64, 12, 6, 6)
    with torch.no_grad():
        qv = dt.input_quant(y)
        tau_float = dt.thresholds(qv.value, qv.scale.reshape(())) / qv.scale  # on v's integer grid
        q = torch.round(qv.value / qv.scale).numpy().astype(np.int64)
    core = dt.integer_core("dt", 36)
    t_int = golden.dybnn_thresholds(q, core)
    t_float = np.clip(tau_float.numpy(), -8, 8)
    assert np.mean(t_int == t_float) > 0.99  # differences only at float rounding ties
    assert np.abs(t_int - t_float).max() <= 1


def test_bn_sign_thresholds_match_float_forward(small_runs, digits):
    model, _, _ = load_model(small_runs["sign"])
    x = digits.x_test[:16].float()
    with torch.no_grad():
        block = model.blocks[0]
        y = block.bn(block.layer(x)).double().numpy()  # float BN output before the sign
    out = golden.forward(model.to_integer(), x.numpy())["conv1_act"]
    clear = np.abs(y) > 1e-4
    assert clear.mean() > 0.99
    assert np.array_equal(out[clear], np.where(y[clear] >= 0, 1, -1))


# --- bit-exactness between implementations -------------------------------------------


@pytest.mark.parametrize("binarizer", ["sign", "lab", "dybnn"])
def test_golden_equals_torch_and_qonnx_on_test_images(small_runs, digits, binarizer):
    model, _, _ = load_model(small_runs[binarizer])
    net = model.to_integer()
    x = digits.x_test[:6].numpy()
    ref = golden.forward(net, x)
    with torch.no_grad():
        tor = net.torch_forward(torch.from_numpy(x).float(), keep_all=True)
        assert torch.equal(model(torch.from_numpy(x).float()), tor["fc_out"])
    qon = execute_qonnx(build_qonnx(net), x)
    for name in ref:
        assert np.array_equal(tor[name].numpy(), ref[name]), name
        assert np.array_equal(qon[name], ref[name]), name


def test_golden_equals_torch_on_fashion_mnist():
    ds = load_dataset("fashion-mnist")
    torch.manual_seed(0)
    for binarizer in ("lab", "dybnn"):
        model = build_model(model_config_for(ds, arch="cnv", binarizer=binarizer, width=0.125))
        model.train()
        model(ds.x_train[:64].float())  # BN statistics and quantizer scales from real images
        model.eval()
        net = model.to_integer()
        x = ds.x_test[:32].numpy()
        ref = golden.forward(net, x)
        tor = net.torch_forward(torch.from_numpy(x).float(), keep_all=True)
        assert all(np.array_equal(tor[k].numpy(), ref[k]) for k in ref)


def test_verify_cli_bit_exact(small_runs):
    out = run_cli("verify", small_runs["lab"], "--samples", "4", "--columns")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BIT-EXACT" in out.stdout and "lab1" in out.stdout


def test_verify_detects_a_corrupted_export(small_runs, tmp_path):
    """verify must fail when the exported graph disagrees with the checkpoint."""
    import shutil

    from qonnx.core.modelwrapper import ModelWrapper

    run = tmp_path / "run"
    shutil.copytree(small_runs["lab"], run)
    assert run_cli("export", run).returncode == 0
    m = ModelWrapper(str(run / "model.onnx"))
    name = "lab1_param_thresholds"
    t = m.get_initializer(name)
    m.set_initializer(name, t + 1)  # off by one in every LAB threshold
    m.save(str(run / "model.onnx"))
    out = run_cli("verify", run, "--samples", "4", "--columns")
    assert out.returncode == 1 and "MISMATCH" in out.stdout


# --- export / training ------------------------------------------------------------------


def test_export_writes_model_and_vectors(small_runs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(small_runs["dybnn"], run)
    out = run_cli("export", run, "--vectors", "3")
    assert out.returncode == 0, out.stderr
    vec = np.load(run / "vectors.npz")
    assert vec["input"].shape == (3, 1, 32, 32) and vec["input"].dtype == np.uint8
    layers = list(vec["layers"])
    assert "dynthresh1" in layers and layers[-1] == "fc_out"
    model, _, _ = load_model(run)
    ref = golden.forward(model.to_integer(), vec["input"])
    assert all(np.array_equal(vec[f"golden/{k}"], ref[k]) for k in layers)
    from qonnx.core.modelwrapper import ModelWrapper

    q = execute_qonnx(ModelWrapper(str(run / "model.onnx")), vec["input"])
    assert np.array_equal(q["fc_out"], vec["golden/fc_out"])


def test_train_digits_reaches_80_percent(tmp_path, digits):
    out = run_cli("train", "--arch", "tfc", "--dataset", "digits", "--epochs", "4", "--seed", "3",
                  "--out", tmp_path / "run", "--quiet")
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.8 and len(metrics["history"]) == 4
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["arch"] == "tfc" and config["train"]["seed"] == 3


def test_training_is_deterministic_and_resumable(tmp_path, digits):
    cfg = model_config_for(digits, arch="tfc", width=0.5)
    quiet = dict(dataset=digits, progress=False, log=lambda *_: None)
    tcfg = TrainConfig(dataset="digits", epochs=2, seed=5)
    full = train(tmp_path / "a", cfg, tcfg, **quiet)
    again = train(tmp_path / "c", cfg, tcfg, **quiet)
    assert full["history"][-1]["loss"] == again["history"][-1]["loss"]  # same seed, same run
    train(tmp_path / "b", cfg, tcfg, stop_after_epoch=1, **quiet)  # interrupted after epoch 1
    resumed = train(tmp_path / "b", cfg, tcfg, resume=True, **quiet)
    assert [h["test_accuracy"] for h in full["history"]] == [h["test_accuracy"] for h in resumed["history"]]
    sa = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["model"]
    sb = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("arch", ["tfc", "reactnet"])
def test_batch_norm_recalibration_takes_the_batch_statistics_of_the_current_weights(digits, arch):
    """After recalibration every BatchNorm's running mean / variance is the average over the
    recalibration batches of what the current weights give it (unbiased variance); nothing
    else in the model changes and the model's mode is restored."""
    from bnnforge.model import distributed
    from bnnforge.model.train import recalibrate_batch_norm

    torch.manual_seed(0)
    model = build_model(model_config_for(digits, arch=arch, width=0.125, blocks=1 if arch == "reactnet" else None))
    norms = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    reference = copy.deepcopy(model)
    tcfg = TrainConfig(dataset="digits", seed=4, batch_size=48, bn_recalibration_images=96)  # two batches
    recalibrate_batch_norm(model, digits, tcfg, distributed.setup(torch.device("cpu")))
    assert model.training

    # what each BatchNorm sees, batch by batch, with batch statistics (quantizers as in eval)
    order = torch.randperm(len(digits.x_train), generator=torch.Generator().manual_seed(tcfg.seed * 1000 - 1))[:96]
    seen = {n: [] for n in norms}
    reference.eval()
    for m in reference.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.train()
    hooks = [m.register_forward_hook(lambda m, inp, out, n=n: seen[n].append(inp[0].detach()))
             for n, m in reference.named_modules() if n in norms]
    with torch.no_grad():
        for idx in (order[:48], order[48:]):
            reference.float_forward(digits.x_train[idx].float())
    for h in hooks:
        h.remove()
    for n, m in norms.items():
        dims = [0, *range(2, seen[n][0].dim())]
        mean = torch.stack([x.mean(dims) for x in seen[n]]).mean(0)
        var = torch.stack([x.var(dims, unbiased=True) for x in seen[n]]).mean(0)
        # torch's BatchNorm sums a channel's values in float32, so its error grows with their
        # number: on one thread the reactnet stem's mean (49,152 values up to 1,785) was 1.5e-4 off
        # the float64 one (-533.50 vs -533.58), its variance 1.9e-4. The wrong images or a moving
        # average would be off by percents, a biased variance by 1 / values (3.3e-4 at 8x8)
        values = seen[n][0].numel() // seen[n][0].shape[1]
        rtol = max(1e-4, 1e-8 * values)
        assert torch.allclose(m.running_mean, mean, rtol=rtol, atol=1e-5), n
        assert torch.allclose(m.running_var, var, rtol=rtol, atol=1e-6), n
        assert not torch.allclose(m.running_var, before[f"{n}.running_var"]), n
    after = model.state_dict()
    assert all(torch.equal(after[k], before[k]) for k in before if not any(k.startswith(f"{n}.") for n in norms))


# --- bad inputs ------------------------------------------------------------------------


def test_bad_inputs_give_clear_errors(tmp_path):
    out = run_cli("train", "--arch", "resnet", "--dataset", "digits", "--out", tmp_path / "r")
    assert out.returncode == 2 and "resnet" in out.stderr and "cnv" in out.stderr

    out = run_cli("train", "--arch", "cnv", "--binarizer", "lab", "--act-bits", "9", "--dataset", "digits",
                  "--out", tmp_path / "r")
    assert out.returncode == 2 and "act_bits" in out.stderr and "2..8" in out.stderr

    out = run_cli("train", "--dataset", "cifar10", "--data-dir", tmp_path, "--out", tmp_path / "r")
    assert out.returncode == 2 and "data_batch_1.bin" in out.stderr and str(tmp_path) in out.stderr

    out = run_cli("train", "--dataset", "fashion-mnist", "--data-dir", tmp_path, "--out", tmp_path / "r")
    assert out.returncode == 2 and "dataset-fashion-mnist" in out.stderr

    with pytest.raises(ValueError, match="cnv takes"):
        ModelConfig(arch="cnv", in_size=30).validate()


def test_corrupt_checkpoint_is_refused(small_runs, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(small_runs["sign"], run)
    (run / "checkpoint.pt").write_bytes(b"definitely not a checkpoint")
    out = run_cli("export", run)
    assert out.returncode == 2 and "checkpoint.pt" in out.stderr and "not a valid checkpoint" in out.stderr

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"model": Evil()}, run / "checkpoint.pt")  # an arbitrary pickle must not be executed
    out = run_cli("export", run)
    assert out.returncode == 2 and "pwned" not in out.stdout


def test_cifar10_binary_batches_are_read(tmp_path):
    """The official binary format: 1 label byte + 3072 pixel bytes (R, G, B planes) per record."""
    from bnnforge.model.data import load_cifar10

    rng = np.random.default_rng(0)

    def write(name, n):
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        np.concatenate([labels[:, None], pixels], axis=1).tofile(tmp_path / name)
        return labels, pixels

    l1, p1 = write("data_batch_1.bin", 3)
    l2, _ = write("data_batch_2.bin", 2)
    lt, pt = write("test_batch.bin", 4)
    ds = load_cifar10(tmp_path)
    assert ds.x_train.shape == (5, 3, 32, 32) and ds.x_test.shape == (4, 3, 32, 32)
    assert ds.y_train.tolist() == list(l1) + list(l2) and ds.y_test.tolist() == list(lt)
    assert np.array_equal(ds.x_train[0].numpy().reshape(-1), p1[0])
    assert ds.x_train.dtype == torch.uint8
    (tmp_path / "test_batch.bin").write_bytes(b"\x00" * 100)  # truncated record
    with pytest.raises(ValueError, match="not a CIFAR-10 binary batch"):
        load_cifar10(tmp_path)
