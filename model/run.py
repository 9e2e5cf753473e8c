"""A training run directory: config.json, checkpoint.pt, metrics.json (and export files).

Checkpoints are plain dictionaries of tensors and numbers, saved with torch.save and
always loaded with ``weights_only=True`` (no arbitrary pickles).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch

from bnnforge.errors import UserError
from bnnforge import __version__
from bnnforge.model.zoo import BNN, ModelConfig, build_model
from bnnforge.model import BN_RECALIBRATION_IMAGES, CROP_PAD

CONFIG = "config.json"
CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.json"
CHECKPOINT_KEYS = {"model", "optimizer", "scheduler", "epoch", "history"}


class RunError(UserError):
    """A run directory is missing, incomplete or corrupt."""


@dataclasses.dataclass
class TrainConfig:
    dataset: str = "fashion-mnist"
    epochs: int = 10
    subset: int | None = None
    seed: int = 0
    batch_size: int = 128
    lr: float = 2e-3
    data_dir: str | None = None
    device: str = "auto"  # auto (CUDA when present), cpu, cuda
    augment: bool = False  # random crop with padding (+ horizontal flip where it makes sense)
    crop_pad: int = CROP_PAD  # --augment: zero padding around each image before the random crop (pixels)
    image_size: int = 32  # --dataset folder: images resized and center-cropped to this
    channels: int = 3  # --dataset folder: 3 (RGB) or 1 (grayscale)
    workers: int = 2  # --dataset folder: DataLoader processes reading the training images
    # BatchNorm statistics re-estimated with each epoch's final weights over this many training
    # images before it is evaluated and saved (0: keep the moving averages of training)
    bn_recalibration_images: int = BN_RECALIBRATION_IMAGES


def write_json(path: Path, data) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def save_config(run_dir: Path, model_cfg: ModelConfig, train_cfg: TrainConfig) -> None:
    write_json(
        run_dir / CONFIG,
        {"bnnforge_version": __version__, "model": dataclasses.asdict(model_cfg), "train": dataclasses.asdict(train_cfg)},
    )


def load_config(run_dir: Path) -> tuple[ModelConfig, TrainConfig]:
    path = Path(run_dir) / CONFIG
    if not path.exists():
        raise RunError(f"{path} not found: is {run_dir} a run directory written by `bnnforge train`?")
    try:
        data = json.loads(path.read_text())
        return ModelConfig.from_dict(data["model"]), TrainConfig(**data["train"])
    except (ValueError, KeyError, TypeError) as e:
        raise RunError(f"{path} is not a valid bnnforge run config: {e}") from e


def save_checkpoint(run_dir: Path, state: dict) -> None:
    path = run_dir / CHECKPOINT
    tmp = path.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a crash mid-write never leaves a half checkpoint


def load_checkpoint(run_dir: Path) -> dict:
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise RunError(f"{path} not found: train first (bnnforge train ... --out {run_dir})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise RunError(f"{path} is not a valid checkpoint (corrupt or not written by bnnforge): {e}") from e
    if not isinstance(state, dict) or not CHECKPOINT_KEYS <= set(state):
        missing = CHECKPOINT_KEYS - set(state) if isinstance(state, dict) else CHECKPOINT_KEYS
        raise RunError(f"{path} is not a bnnforge checkpoint: missing {sorted(missing)}")
    return state


def load_model(run_dir: Path) -> tuple[BNN, ModelConfig, TrainConfig]:
    """The trained model of a run, in eval mode (integer forward)."""
    model_cfg, train_cfg = load_config(run_dir)
    state = load_checkpoint(run_dir)
    model = build_model(model_cfg)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise RunError(f"{Path(run_dir) / CHECKPOINT} does not match {Path(run_dir) / CONFIG}: {e}") from e
    model.eval()
    return model, model_cfg, train_cfg
