"""Training loop: deterministic with a seed, resumable, one checkpoint per epoch."""

from __future__ import annotations

import dataclasses
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from tqdm import tqdm

from bnnforge.model import run as runlib
from bnnforge.model.data import Dataset, load_dataset
from bnnforge.model.zoo import BNN, ModelConfig, build_model, parameter_count

EVAL_BATCH = 500


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def evaluate(model: BNN, x: torch.Tensor, y: torch.Tensor) -> float:
    """Test accuracy of the integer (hardware) forward."""
    was_training = model.training
    model.eval()
    net = model.to_integer()
    correct = 0
    for i in range(0, len(x), EVAL_BATCH):
        logits = net.torch_forward(x[i : i + EVAL_BATCH].float())
        correct += int((logits.argmax(1) == y[i : i + EVAL_BATCH]).sum())
    model.train(was_training)
    return correct / len(x)


def _clip_latent_binary_weights(model: nn.Module) -> None:
    """Keep the latent float weights of binary layers in [-1, 1] (standard BNN training)."""
    for m in model.modules():
        if getattr(m, "is_binary", False):
            m.weight.data.clamp_(-1, 1)


def model_config_for(dataset: Dataset, **kwargs) -> ModelConfig:
    c, h, w = dataset.image_shape
    return ModelConfig(in_channels=c, in_size=h, num_classes=len(dataset.classes), **kwargs).validate()


def train(
    run_dir: Path,
    model_cfg: ModelConfig,
    train_cfg: runlib.TrainConfig,
    dataset: Dataset | None = None,
    resume: bool = False,
    log=print,
    progress: bool = True,
    stop_after_epoch: int | None = None,
) -> dict:
    """Train (or resume) a run in ``run_dir``; returns the metrics written to metrics.json.

    ``stop_after_epoch`` ends this call early (as an interruption would); a later
    call with ``resume=True`` continues exactly where it stopped.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if dataset is None:
        dataset = load_dataset(train_cfg.dataset, train_cfg.data_dir)
    dataset = dataset.subset(train_cfg.subset, seed=train_cfg.seed)
    seed_everything(train_cfg.seed)
    model = build_model(model_cfg)
    steps_per_epoch = (len(dataset.x_train) + train_cfg.batch_size - 1) // train_cfg.batch_size
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, train_cfg.epochs * steps_per_epoch))
    history: list[dict] = []
    start_epoch = 0

    if resume and (run_dir / runlib.CHECKPOINT).exists():
        saved_model_cfg, saved_train_cfg = runlib.load_config(run_dir)
        if saved_model_cfg != model_cfg:
            raise runlib.RunError(f"cannot resume {run_dir}: its model config differs ({saved_model_cfg})")
        state = runlib.load_checkpoint(run_dir)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scheduler.T_max = max(1, train_cfg.epochs * steps_per_epoch)  # --epochs may have grown
        start_epoch, history = int(state["epoch"]), list(state["history"])
        log(f"resuming {run_dir} after epoch {start_epoch}")
    runlib.save_config(run_dir, model_cfg, train_cfg)

    loss_fn = nn.CrossEntropyLoss()
    last_epoch = train_cfg.epochs if stop_after_epoch is None else min(train_cfg.epochs, stop_after_epoch)
    for epoch in range(start_epoch, last_epoch):
        t0 = time.time()
        model.train()
        # the order of each epoch depends only on (seed, epoch): resuming gives the same run
        order = torch.randperm(len(dataset.x_train), generator=torch.Generator().manual_seed(train_cfg.seed * 1000 + epoch))
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch + 1}/{train_cfg.epochs}",
            disable=not progress,
            leave=False,
            file=sys.stderr,
        )
        for step in bar:
            idx = order[step * train_cfg.batch_size : (step + 1) * train_cfg.batch_size]
            x, y = dataset.x_train[idx].float(), dataset.y_train[idx]
            logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            _clip_latent_binary_weights(model)
            total_loss += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        test_acc = evaluate(model, dataset.x_test, dataset.y_test)
        entry = {
            "epoch": epoch + 1,
            "loss": total_loss / seen,
            "train_accuracy": correct / seen,
            "test_accuracy": test_acc,
            "seconds": time.time() - t0,
        }
        history.append(entry)
        log(
            f"epoch {epoch + 1}/{train_cfg.epochs}  loss {entry['loss']:.4f}  train acc {entry['train_accuracy']:.4f}"
            f"  test acc {test_acc:.4f}  ({entry['seconds']:.1f} s)"
        )
        runlib.save_checkpoint(
            run_dir,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": epoch + 1,
                "history": history,
            },
        )

    metrics = {
        "test_accuracy": history[-1]["test_accuracy"] if history else evaluate(model, dataset.x_test, dataset.y_test),
        "best_test_accuracy": max((h["test_accuracy"] for h in history), default=None),
        "epochs": len(history),
        "parameter_count": parameter_count(model),
        "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])) if history else None,
        "train_images": len(dataset.x_train),
        "test_images": len(dataset.x_test),
        "model": dataclasses.asdict(model_cfg),
        "history": history,
    }
    runlib.write_json(run_dir / runlib.METRICS, metrics)
    return metrics
