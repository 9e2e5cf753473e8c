"""Image-folder datasets (the ImageFolder layout): DIR/train/<class>/*.png|jpg|... and
DIR/val/<class>/..., classes in sorted folder order. Training images are read from disk
batch by batch through a DataLoader with worker processes; each image is resized (shorter
side to the model's input size) and center-cropped, as uint8 like the built-in datasets
(random crops and flips are --augment's, on the loaded batch). The val split is loaded
into memory: it is the test set of training, export (its first images become the golden
vectors) and verify.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bnnforge.errors import UserError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


class FolderError(UserError, FileNotFoundError):
    pass


def load_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One image as uint8 (channels, size, size): shorter side resized to ``size``, center crop."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            w, h = im.size
            scale = size / min(w, h)
            im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            a = np.asarray(im.crop((left, top, left + size, top + size)), np.uint8)
    except OSError as e:
        raise FolderError(f"{path}: not a readable image ({e})") from None
    return a[None] if channels == 1 else a.transpose(2, 0, 1)


class FolderImages(torch.utils.data.Dataset):
    """Image files with labels, read on demand; ``shape`` is (N, channels, size, size)."""

    def __init__(self, files: list[Path], labels: torch.Tensor, size: int, channels: int):
        self.files, self.labels, self.size, self.channels = list(files), labels, size, channels

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.files), self.channels, self.size, self.size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        return torch.from_numpy(load_image(self.files[i], self.size, self.channels)), self.labels[i]

    def select(self, idx: torch.Tensor) -> "FolderImages":
        return FolderImages([self.files[int(i)] for i in idx], self.labels[idx], self.size, self.channels)

    def load_all(self) -> torch.Tensor:
        return torch.from_numpy(np.stack([load_image(f, self.size, self.channels) for f in self.files]))


def scan(split_dir: Path, classes: list[str] | None = None) -> tuple[list[Path], torch.Tensor, list[str]]:
    """(files, labels, classes) of one split folder."""
    if not split_dir.is_dir():
        raise FolderError(f"{split_dir} not found: a folder dataset needs DIR/train/<class>/ and DIR/val/<class>/")
    found = sorted(d.name for d in split_dir.iterdir() if d.is_dir())
    classes = classes or found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise FolderError(f"{split_dir}: class folder(s) {unknown} are not among the train classes {classes}")
    files, labels = [], []
    for k, c in enumerate(classes):
        for f in sorted((split_dir / c).glob("*")) if (split_dir / c).is_dir() else []:
            if f.suffix.lower() in EXTENSIONS:
                files.append(f)
                labels.append(k)
    if not files:
        raise FolderError(f"{split_dir}: no images ({', '.join(EXTENSIONS)}) in its class folders")
    empty = [c for k, c in enumerate(classes) if k not in set(labels)]
    if empty and split_dir.name == "train":
        raise FolderError(f"{split_dir}: class folder(s) {empty} hold no images ({', '.join(EXTENSIONS)}): a class "
                          "the network never sees cannot be learned; add images or remove the folder")
    return files, torch.tensor(labels, dtype=torch.int64), classes


def load_folder(root: Path, size: int = 32, channels: int = 3):
    """(train FolderImages, val images uint8 tensor, val labels, classes)."""
    if channels not in (1, 3):
        raise UserError(f"--channels {channels}: allowed: 1 (grayscale), 3 (RGB)")
    if not 4 <= size <= 1024:
        raise UserError(f"--image-size {size}: allowed: 4..1024")
    root = Path(root)
    files, labels, classes = scan(root / "train")
    if len(classes) < 2:
        raise FolderError(f"{root / 'train'}: at least 2 class folders needed, found {classes}")
    val_files, val_labels, _ = scan(root / "val", classes)
    train = FolderImages(files, labels, size, channels)
    val = FolderImages(val_files, val_labels, size, channels).load_all()
    return train, val, val_labels, tuple(classes)


def batches(images: FolderImages, batch_indices: list[torch.Tensor], workers: int):
    """(x uint8, y) per batch of indices, read by ``workers`` DataLoader processes."""
    loader = torch.utils.data.DataLoader(images, batch_sampler=[b.tolist() for b in batch_indices],
                                         num_workers=workers, persistent_workers=False)
    yield from loader
