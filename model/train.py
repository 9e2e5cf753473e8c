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

from bnnforge.model import DEVICES, distributed
from bnnforge.model import run as runlib
from bnnforge.model.data import Dataset, load_dataset
from bnnforge.model.zoo import BNN, ModelConfig, build_model, parameter_count

EVAL_BATCH = 500
# random-crop padding per input size, and whether a horizontal flip keeps the class
CROP_PAD = 4
FLIP_OK = {"fashion-mnist": True, "cifar10": True, "digits": False}  # a mirrored digit is another digit


def resolve_device(name: str) -> torch.device:
    """--device: auto picks CUDA when torch sees a GPU, else the CPU."""
    if name not in DEVICES:
        raise ValueError(f"--device {name!r}: allowed: {', '.join(DEVICES)}")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise runlib.RunError(f"--device cuda: no CUDA device visible to torch {torch.__version__} ({build}); "
                                  "use --device cpu or auto")
        return torch.device("cuda")
    return torch.device("cpu")


def augment_batch(x: torch.Tensor, gen: torch.Generator, flip: bool, pad: int = CROP_PAD) -> torch.Tensor:
    """Random crop of each image from its zero-padded copy, and a random horizontal flip
    (``flip``); uint8 in, uint8 out, driven by ``gen`` only (deterministic per seed)."""
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    out = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    if flip:
        mirror = torch.rand(n, generator=gen) < 0.5
        out[mirror] = out[mirror].flip(-1)
    return out


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def evaluate(model: BNN, x: torch.Tensor, y: torch.Tensor) -> float:
    """Test accuracy of the integer (hardware) forward (on the CPU: the integer form is numpy)."""
    if next(model.parameters()).device.type != "cpu":
        import copy

        model = copy.deepcopy(model).cpu()
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
        dataset = load_dataset(train_cfg.dataset, train_cfg.data_dir, train_cfg.image_size, train_cfg.channels)
    dataset = dataset.subset(train_cfg.subset, seed=train_cfg.seed)
    group = distributed.setup(resolve_device(train_cfg.device))
    device = group.device
    if group.world > 1 and train_cfg.batch_size % group.world:
        raise ValueError(f"--batch-size {train_cfg.batch_size} is the global batch: it must divide into the "
                         f"{group.world} processes")
    if not group.main:
        log, progress = (lambda *_: None), False
    seed_everything(train_cfg.seed)
    model = build_model(model_cfg).to(device)
    steps_per_epoch = (len(dataset.x_train) + train_cfg.batch_size - 1) // train_cfg.batch_size
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, train_cfg.epochs * steps_per_epoch))
    history: list[dict] = []
    start_epoch = 0

    if resume and (run_dir / runlib.CHECKPOINT).exists():
        saved_model_cfg, saved_train_cfg = runlib.load_config(run_dir)
        if saved_model_cfg != model_cfg:
            raise runlib.RunError(f"cannot resume {run_dir}: its model config differs ({saved_model_cfg})")
        state = runlib.load_checkpoint(run_dir)  # tensors on the CPU
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scheduler.T_max = max(1, train_cfg.epochs * steps_per_epoch)  # --epochs may have grown
        start_epoch, history = int(state["epoch"]), list(state["history"])
        log(f"resuming {run_dir} after epoch {start_epoch}")
    if group.main:
        runlib.save_config(run_dir, model_cfg, train_cfg)
    step_model = distributed.wrap(model, group)  # what the training steps call

    loss_fn = nn.CrossEntropyLoss()
    # one process: the mean over the batch; N processes: each process's sum over its share
    # divided by the global batch size, times N (DDP averages the N gradients): the same loss
    loss_sum = nn.CrossEntropyLoss(reduction="sum")
    last_epoch = train_cfg.epochs if stop_after_epoch is None else min(train_cfg.epochs, stop_after_epoch)
    for epoch in range(start_epoch, last_epoch):
        t0 = time.time()
        model.train()
        # the order of each epoch depends only on (seed, epoch): resuming gives the same run
        order = torch.randperm(len(dataset.x_train), generator=torch.Generator().manual_seed(train_cfg.seed * 1000 + epoch))
        total_loss, correct, seen = 0.0, 0, 0
        aug_gen = torch.Generator().manual_seed(train_cfg.seed * 1000 + epoch + 1)
        bar = tqdm(
            total=steps_per_epoch,
            desc=f"epoch {epoch + 1}/{train_cfg.epochs}",
            disable=not progress,
            leave=False,
            file=sys.stderr,
        )
        global_batches = [order[s * train_cfg.batch_size : (s + 1) * train_cfg.batch_size] for s in range(steps_per_epoch)]
        shares = dataset.train_batches([group.share(b) for b in global_batches], train_cfg.workers)
        for global_idx, (x, y) in zip(global_batches, shares):
            if train_cfg.augment:
                x = augment_batch(x, aug_gen, FLIP_OK.get(dataset.name, False))
            x, y = x.float().to(device), y.to(device)
            logits = step_model(x)
            if group.world == 1:
                loss = loss_fn(logits, y)
            else:
                loss = loss_sum(logits, y) * (group.world / len(global_idx))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            _clip_latent_binary_weights(model)
            total_loss += loss.item() * len(global_idx) / group.world
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            bar.update()
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        bar.close()
        train_seconds = time.time() - t0
        total_loss, correct, seen = group.sum(total_loss, correct, seen)
        if not group.main:  # the main process evaluates, logs and writes the checkpoint
            group.barrier()
            continue
        test_acc = evaluate(model, dataset.x_test, dataset.y_test)
        entry = {
            "epoch": epoch + 1,
            "loss": total_loss / seen,
            "train_accuracy": correct / seen,
            "test_accuracy": test_acc,
            "seconds": time.time() - t0,
            "train_seconds": train_seconds,  # the training steps alone (no evaluation)
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
        group.barrier()

    del step_model  # before teardown: see distributed.teardown
    if not group.main:
        distributed.teardown(group)
        return {}
    metrics = {
        "processes": group.world,
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
    distributed.teardown(group)
    return metrics
