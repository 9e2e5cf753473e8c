"""Datasets, read from local files only (never downloaded).

Images are uint8 NCHW tensors (pixel values 0..255, the network's UINT8 input);
labels are int64.

- ``fashion-mnist``: Debian package ``dataset-fashion-mnist`` (IDX files)
- ``digits``: scikit-learn's 8x8 digits, scaled to 0..255 and upsampled 4x to 32x32
- ``cifar10``: a user folder with the official binary version (data_batch_*.bin)
- ``folder``: an image-folder tree DIR/train/<class>/, DIR/val/<class>/ (folder.py), read
  batch by batch from disk during training
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from pathlib import Path

import numpy as np
import torch

from bnnforge.errors import UserError
from bnnforge.model import DATASETS
from bnnforge.model.folder import FolderImages, batches, load_folder

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
CIFAR10_ENV = "BNNFORGE_CIFAR10_DIR"


class DatasetMissing(UserError, FileNotFoundError):
    pass


@dataclasses.dataclass
class Dataset:
    name: str
    x_train: torch.Tensor | FolderImages  # uint8 (N, C, H, W), or image files read on demand
    y_train: torch.Tensor  # int64 (N,)
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def subset(self, n_train: int | None, seed: int = 0) -> "Dataset":
        """A random (seeded) subset of n_train training images; the test set is kept."""
        if n_train is None or n_train >= len(self.x_train):
            return self
        if n_train < 1:
            raise UserError(f"--subset must be >= 1, got {n_train}")
        idx = torch.randperm(len(self.x_train), generator=torch.Generator().manual_seed(seed))[:n_train]
        x = self.x_train.select(idx) if isinstance(self.x_train, FolderImages) else self.x_train[idx]
        return dataclasses.replace(self, x_train=x, y_train=self.y_train[idx])

    def train_batches(self, batch_indices: list[torch.Tensor], workers: int = 0):
        """(x uint8, y) for each batch of training-set indices; image folders are read from disk
        by ``workers`` DataLoader processes."""
        if isinstance(self.x_train, FolderImages):
            yield from batches(self.x_train, batch_indices, workers)
            return
        for idx in batch_indices:
            yield self.x_train[idx], self.y_train[idx]


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise UserError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    payload = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if payload.size != int(np.prod(dims)):
        raise UserError(f"{path}: truncated IDX file ({payload.size} of {int(np.prod(dims))} bytes)")
    return payload.reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DatasetMissing(
        f"Fashion-MNIST file {stem}[.gz] not found in {folder}. "
        "Install the Debian package: apt-get install dataset-fashion-mnist (or run `make setup`)"
    )


def load_fashion_mnist(folder: Path = FASHION_MNIST_DIR) -> Dataset:
    files = {
        k: _find(folder, stem)
        for k, stem in [
            ("xtr", "train-images-idx3-ubyte"),
            ("ytr", "train-labels-idx1-ubyte"),
            ("xte", "t10k-images-idx3-ubyte"),
            ("yte", "t10k-labels-idx1-ubyte"),
        ]
    }
    arr = {k: _read_idx(p) for k, p in files.items()}
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    return Dataset(
        "fashion-mnist",
        torch.from_numpy(arr["xtr"].copy()).unsqueeze(1),
        torch.from_numpy(arr["ytr"].astype(np.int64)),
        torch.from_numpy(arr["xte"].copy()).unsqueeze(1),
        torch.from_numpy(arr["yte"].astype(np.int64)),
        classes,
    )


def load_digits() -> Dataset:
    """scikit-learn digits (1797 images 8x8, 0..16) as 1x32x32 uint8; fixed 80/20 split."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    x = x.repeat(4, axis=1).repeat(4, axis=2)[:, None]  # nearest-neighbour 4x upsampling
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    n_test = len(y) // 5
    te, tr = order[:n_test], order[n_test:]
    return Dataset(
        "digits",
        torch.from_numpy(x[tr]),
        torch.from_numpy(y[tr]),
        torch.from_numpy(x[te]),
        torch.from_numpy(y[te]),
        tuple(str(i) for i in range(10)),
    )


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, np.uint8)
    record = 1 + 3 * 32 * 32
    if raw.size == 0 or raw.size % record:
        raise UserError(f"{path}: not a CIFAR-10 binary batch (size {raw.size} is not a multiple of {record})")
    raw = raw.reshape(-1, record)
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)


def load_cifar10(folder: Path | None = None) -> Dataset:
    folder = Path(folder or os.environ.get(CIFAR10_ENV, "data/cifar-10-batches-bin"))
    train_files = sorted(folder.glob("data_batch_*.bin"))
    test_file = folder / "test_batch.bin"
    if not train_files or not test_file.exists():
        raise DatasetMissing(
            f"CIFAR-10 not found: expected {folder}/data_batch_1.bin .. data_batch_5.bin and test_batch.bin "
            f"(the official 'CIFAR-10 binary version'). Point {CIFAR10_ENV} or --data-dir at that folder."
        )
    parts = [_read_cifar_batch(p) for p in train_files]
    xte, yte = _read_cifar_batch(test_file)
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    return Dataset(
        "cifar10",
        torch.from_numpy(np.concatenate([p[0] for p in parts])),
        torch.from_numpy(np.concatenate([p[1] for p in parts])),
        torch.from_numpy(xte),
        torch.from_numpy(yte),
        classes,
    )


def load_dataset(name: str, data_dir: str | Path | None = None, image_size: int = 32, channels: int = 3) -> Dataset:
    """A dataset by name; ``image_size`` and ``channels`` apply to image folders only."""
    if name == "fashion-mnist":
        return load_fashion_mnist(Path(data_dir) if data_dir else FASHION_MNIST_DIR)
    if name == "digits":
        return load_digits()
    if name == "cifar10":
        return load_cifar10(data_dir)
    if name == "folder":
        if data_dir is None:
            raise UserError("--dataset folder needs --data-dir DIR (DIR/train/<class>/..., DIR/val/<class>/...)")
        train, x_val, y_val, classes = load_folder(Path(data_dir), image_size, channels)
        return Dataset("folder", train, train.labels, x_val, y_val, classes)
    raise UserError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
