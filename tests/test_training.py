"""Training past one CPU: --device, --augment, data-parallel processes (torchrun, gloo)."""

import json

import pytest
import torch
from bnnforge.errors import UserError
from conftest import run_cli

TINY = ["--arch", "tfc", "--dataset", "digits", "--seed", "1", "--quiet"]
DDP_TIMEOUT = 240  # s (a run takes ~20 s): a hung process group fails the test instead of holding the suite


def _weights(run):
    return torch.load(run / "checkpoint.pt", weights_only=True)["model"]


def test_two_processes_take_the_same_steps_as_one(tmp_path):
    """Two processes (gloo) on a global batch of 64 = one process on the same batch: after the
    first optimizer steps (two: Adam's first step is sign-like and would hide a mis-scaled
    gradient) every weight and batch-norm statistic agrees within float reduction order,
    rtol = atol = 1e-5 (a step moves a weight by about lr = 2e-3). Batch norm statistics
    taken per process instead of over the global batch would differ by far more."""
    args = [*TINY, "--epochs", "1", "--subset", "128", "--batch-size", "64"]
    one = run_cli("train", *args, "--out", tmp_path / "one")
    two = run_cli("train", *args, "--nproc", "2", "--out", tmp_path / "two", timeout=DDP_TIMEOUT)
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0 and "2 processes" in two.stdout, two.stdout + two.stderr
    a, b = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert a.keys() == b.keys()
    for k in a:
        if a[k].is_floating_point():
            assert torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-5), (k, (a[k] - b[k]).abs().max())
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["processes"] == 2


def test_two_processes_resume_and_reach_the_single_process_accuracy(tmp_path):
    from bnnforge.model.run import TrainConfig
    from bnnforge.model.train import model_config_for, train
    from bnnforge.model.data import load_dataset

    digits = load_dataset("digits")
    single = train(tmp_path / "one", model_config_for(digits, arch="tfc"),
                   TrainConfig(dataset="digits", epochs=3, seed=1, batch_size=64), dataset=digits, progress=False,
                   log=lambda *_: None)
    args = [*TINY, "--batch-size", "64", "--nproc", "2", "--out", tmp_path / "two"]
    first = run_cli("train", *args, "--epochs", "3", "--stop-after-epoch", "2", timeout=DDP_TIMEOUT)  # interrupted
    assert first.returncode == 0, first.stdout + first.stderr
    resumed = run_cli("train", *args, "--epochs", "3", "--resume", timeout=DDP_TIMEOUT)
    assert resumed.returncode == 0 and "resuming" in resumed.stdout, resumed.stdout + resumed.stderr
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2, 3]
    assert abs(metrics["test_accuracy"] - single["test_accuracy"]) <= 0.01, (metrics["test_accuracy"],
                                                                             single["test_accuracy"])


def test_device_choice(tmp_path):
    out = run_cli("train", *TINY, "--epochs", "1", "--subset", "64", "--device", "cuda", "--out", tmp_path / "c")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the missing-GPU message cannot be checked here")
    assert out.returncode == 2 and "--device cuda: no CUDA device" in out.stderr, out.stderr
    assert not (tmp_path / "c" / "checkpoint.pt").exists()


def test_augment_is_deterministic_and_changes_training(tmp_path, digits):
    from bnnforge.model.run import TrainConfig
    from bnnforge.model.train import augment_batch, model_config_for, train

    x = digits.x_train[:8]
    a = augment_batch(x, torch.Generator().manual_seed(3), flip=True, pad=4)
    b = augment_batch(x, torch.Generator().manual_seed(3), flip=True, pad=4)
    assert a.dtype == torch.uint8 and a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    assert torch.equal(augment_batch(x, torch.Generator().manual_seed(3), flip=False, pad=0), x)
    # a 1-pixel crop moves each image by at most one pixel: some shift of it matches exactly
    one = augment_batch(x, torch.Generator().manual_seed(3), flip=False, pad=1)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    h, w = x.shape[-2:]
    assert all(any(torch.equal(one[i], padded[i, :, dy:dy + h, dx:dx + w]) for dy in range(3) for dx in range(3))
               for i in range(len(x)))
    cfg = model_config_for(digits, arch="tfc", width=0.5)
    quiet = dict(dataset=digits, progress=False, log=lambda *_: None)
    plain = train(tmp_path / "p", cfg, TrainConfig(dataset="digits", epochs=1, seed=2, subset=256), **quiet)
    aug = train(tmp_path / "a", cfg, TrainConfig(dataset="digits", epochs=1, seed=2, subset=256, augment=True), **quiet)
    again = train(tmp_path / "b", cfg, TrainConfig(dataset="digits", epochs=1, seed=2, subset=256, augment=True), **quiet)
    assert aug["history"][-1]["loss"] == again["history"][-1]["loss"] != plain["history"][-1]["loss"]
    with pytest.raises(UserError, match=r"--crop-pad 32: .* 0\.\.31 pixels for 32x32"):
        train(tmp_path / "bad", cfg, TrainConfig(dataset="digits", epochs=1, subset=256, augment=True, crop_pad=32),
              **quiet)
    assert not (tmp_path / "bad" / "checkpoint.pt").exists()


def _png_tree(root, digits, per_class=24, classes=4):
    """DIR/train/<class>/*.png and DIR/val/<class>/*.png from the digits images (8-bit grayscale,
    32x32, saved as RGB PNGs of size 40x36 so resizing and cropping have work to do)."""
    from PIL import Image

    x, y = digits.x_train.numpy()[:, 0], digits.y_train.numpy()
    for split, start in (("train", 0), ("val", per_class)):
        for c in range(classes):
            d = root / split / f"class_{c}"
            d.mkdir(parents=True)
            for k, i in enumerate((y == c).nonzero()[0][start:start + (per_class if split == "train" else 6)]):
                Image.fromarray(x[i]).convert("RGB").resize((40, 36)).save(d / f"{k}.png")
    (root / "train" / "class_0" / "notes.txt").write_text("not an image: ignored\n")


def test_folder_dataset_trains_streamed_and_exports(tmp_path, digits):
    import numpy as np

    from bnnforge.model.data import load_dataset

    root = tmp_path / "tree"
    _png_tree(root, digits)
    ds = load_dataset("folder", root, image_size=16, channels=1)
    assert ds.classes == ("class_0", "class_1", "class_2", "class_3") and ds.image_shape == (1, 16, 16)
    assert len(ds.x_train) == 96 and ds.x_test.shape == (24, 1, 16, 16) and ds.x_test.dtype == torch.uint8
    run = tmp_path / "run"
    out = run_cli("train", "--arch", "tfc", "--dataset", "folder", "--data-dir", root, "--image-size", "16",
                  "--channels", "1", "--workers", "2", "--epochs", "2", "--batch-size", "32", "--augment",
                  "--quiet", "--out", run)
    assert out.returncode == 0, out.stdout + out.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train_images"] == 96 and metrics["test_images"] == 24 and len(metrics["history"]) == 2
    out = run_cli("export", run, "--vectors", "4")
    assert out.returncode == 0, out.stderr
    vec = np.load(run / "vectors.npz")
    assert np.array_equal(vec["input"], ds.x_test[:4].numpy())  # golden vectors from the val split

    (root / "val" / "class_9").mkdir()
    with pytest.raises(FileNotFoundError, match="class_9"):
        load_dataset("folder", root)
    (root / "val" / "class_9").rmdir()
    (root / "train" / "class_4").mkdir()  # a class without training images is refused, named
    out = run_cli("train", "--arch", "tfc", "--dataset", "folder", "--data-dir", root, "--image-size", "16",
                  "--channels", "1", "--epochs", "1", "--quiet", "--out", tmp_path / "run2")
    assert out.returncode == 2 and "class_4" in out.stderr and "hold no images" in out.stderr, out.stderr
    assert not (tmp_path / "run2" / "checkpoint.pt").exists()
