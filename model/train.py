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

from bnnforge.errors import UserError
from bnnforge.model import DEVICES, distributed
from bnnforge.model import run as runlib
from bnnforge.model.data import Dataset, load_dataset
from bnnforge.model.zoo import BNN, ModelConfig, build_model, parameter_count

EVAL_BATCH = 500
# whether a horizontal flip keeps the class
FLIP_OK = {"fashion-mnist": True, "cifar10": True, "digits": False}  # a mirrored digit is another digit


def resolve_device(name: str) -> torch.device:
    """--device: auto picks CUDA when torch sees a GPU, else the CPU."""
    if name not in DEVICES:
        raise UserError(f"--device {name!r}: allowed: {', '.join(DEVICES)}")
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise runlib.RunError(f"--device cuda: no CUDA device visible to torch {torch.__version__} ({build}); "
                                  "use --device cpu or auto")
        return torch.device("cuda")
    return torch.device("cpu")


def augment_batch(x: torch.Tensor, gen: torch.Generator, flip: bool, pad: int) -> torch.Tensor:
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


@torch.no_grad()
def recalibrate_batch_norm(model: BNN, dataset: Dataset, cfg: runlib.TrainConfig, group: distributed.Group) -> None:
    """Re-estimate every BatchNorm's running statistics with the model's current weights.

    During training the running statistics are a moving average over batches seen with
    *earlier* weights; binary weights flip, so the average lags what the final weights
    produce (a reactnet checkpoint scored 42 % with them and 85 % with batch statistics).
    The thresholds the hardware uses are folded from these statistics, so before each
    evaluation (and so in every checkpoint) they are recomputed as the plain average of
    batch statistics over ``cfg.bn_recalibration_images`` training images, unaugmented (the
    test images are), the same images every epoch (order from the seed only: resuming stays
    exact). Only BatchNorm runs in training mode; quantizers keep what they learned. Every
    process runs this (the global batch norm of N processes is a collective); all end equal.
    """
    n = min(cfg.bn_recalibration_images, len(dataset.x_train))
    if n == 0:
        return
    # a seed no epoch's order or augmentation uses (those are seed * 1000 + epoch (+ 1))
    order = torch.randperm(len(dataset.x_train), generator=torch.Generator().manual_seed(cfg.seed * 1000 - 1))[:n]
    global_batches = [order[i : i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was_training, momenta = model.training, [m.momentum for m in norms]
    model.eval()
    for m in norms:
        m.reset_running_stats()
        m.train()
    device = group.device
    for k, (x, _) in enumerate(dataset.train_batches([group.share(b) for b in global_batches], cfg.workers)):
        for m in norms:
            m.momentum = 1.0 / (k + 1)  # running stat = mean over the batches so far
        model.float_forward(x.float().to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.train(was_training)


def _clip_latent_binary_weights(model: nn.Module) -> None:
    """Keep the latent float weights of binary layers in [-1, 1] (standard BNN training)."""
    for m in model.modules():
        if getattr(m, "is_binary", False):
            m.weight.data.clamp_(-1, 1)


def model_config_for(dataset: Dataset, **kwargs) -> ModelConfig:
    c, h, w = dataset.image_shape
    return ModelConfig(in_channels=c, in_size=h, num_classes=len(dataset.classes), **kwargs).validate()


@dataclasses.dataclass
class _Session:
    """Everything one training call works with (built by ``_start``)."""

    run_dir: Path
    model_cfg: ModelConfig
    train_cfg: runlib.TrainConfig
    dataset: Dataset
    group: distributed.Group
    model: BNN
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    steps_per_epoch: int
    log: object
    progress: bool
    history: list = dataclasses.field(default_factory=list)
    start_epoch: int = 0


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
    run = _start(Path(run_dir), model_cfg, train_cfg, dataset, log, progress)
    if resume and (run.run_dir / runlib.CHECKPOINT).exists():
        _resume(run)
    if run.group.main:
        runlib.save_config(run.run_dir, model_cfg, train_cfg)
    step_model = distributed.wrap(run.model, run.group)  # what the training steps call
    last_epoch = train_cfg.epochs if stop_after_epoch is None else min(train_cfg.epochs, stop_after_epoch)
    for epoch in range(run.start_epoch, last_epoch):
        t0 = time.time()
        stats = _train_epoch(run, step_model, epoch)
        train_seconds = time.time() - t0
        recalibrate_batch_norm(run.model, run.dataset, train_cfg, run.group)
        stats = run.group.sum(*stats)
        if not run.group.main:  # the main process evaluates, logs and writes the checkpoint
            run.group.barrier()
            continue
        _end_epoch(run, epoch, stats, t0, train_seconds)
        run.group.barrier()

    del step_model  # before teardown: see distributed.teardown
    if not run.group.main:
        distributed.teardown(run.group)
        return {}
    metrics = _final_metrics(run)
    runlib.write_json(run.run_dir / runlib.METRICS, metrics)
    distributed.teardown(run.group)
    return metrics


def _start(run_dir: Path, model_cfg: ModelConfig, train_cfg: runlib.TrainConfig, dataset: Dataset | None, log,
           progress: bool) -> _Session:
    """The data, process group, seeded model, optimizer and schedule of a fresh run."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if dataset is None:
        dataset = load_dataset(train_cfg.dataset, train_cfg.data_dir, train_cfg.image_size, train_cfg.channels)
    dataset = dataset.subset(train_cfg.subset, seed=train_cfg.seed)
    side = dataset.x_train.shape[-1]
    if not 0 <= train_cfg.crop_pad < side:
        raise UserError(f"--crop-pad {train_cfg.crop_pad}: the random-crop padding must be in 0..{side - 1} pixels "
                        f"for {side}x{side} images")
    group = distributed.setup(resolve_device(train_cfg.device))
    if group.world > 1 and train_cfg.batch_size % group.world:
        raise UserError(f"--batch-size {train_cfg.batch_size} is the global batch: it must divide into the "
                         f"{group.world} processes")
    if not group.main:
        log, progress = (lambda *_: None), False
    seed_everything(train_cfg.seed)
    model = build_model(model_cfg).to(group.device)
    steps_per_epoch = (len(dataset.x_train) + train_cfg.batch_size - 1) // train_cfg.batch_size
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, train_cfg.epochs * steps_per_epoch))
    return _Session(run_dir, model_cfg, train_cfg, dataset, group, model, optimizer, scheduler, steps_per_epoch, log,
                    progress)


def _resume(run: _Session) -> None:
    """Load the run's checkpoint into the model, optimizer and schedule (its config must match)."""
    saved_model_cfg, _ = runlib.load_config(run.run_dir)
    if saved_model_cfg != run.model_cfg:
        raise runlib.RunError(f"cannot resume {run.run_dir}: its model config differs ({saved_model_cfg})")
    state = runlib.load_checkpoint(run.run_dir)  # tensors on the CPU
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.scheduler.T_max = max(1, run.train_cfg.epochs * run.steps_per_epoch)  # --epochs may have grown
    run.start_epoch, run.history = int(state["epoch"]), list(state["history"])
    run.log(f"resuming {run.run_dir} after epoch {run.start_epoch}")


def _train_epoch(run: _Session, step_model: nn.Module, epoch: int) -> tuple[float, int, int]:
    """One epoch of optimizer steps; returns this process's (summed loss, correct, seen)."""
    cfg, group, device = run.train_cfg, run.group, run.group.device
    run.model.train()
    # the order of each epoch depends only on (seed, epoch): resuming gives the same run
    order = torch.randperm(len(run.dataset.x_train), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
    aug_gen = torch.Generator().manual_seed(cfg.seed * 1000 + epoch + 1)
    bar = tqdm(total=run.steps_per_epoch, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not run.progress,
               leave=False, file=sys.stderr)
    global_batches = [order[s * cfg.batch_size : (s + 1) * cfg.batch_size] for s in range(run.steps_per_epoch)]
    shares = run.dataset.train_batches([group.share(b) for b in global_batches], cfg.workers)
    total_loss, correct, seen = 0.0, 0, 0
    for global_idx, (x, y) in zip(global_batches, shares):
        if cfg.augment:
            x = augment_batch(x, aug_gen, FLIP_OK.get(run.dataset.name, False), cfg.crop_pad)
        x, y = x.float().to(device), y.to(device)
        logits, loss = _step(run, step_model, x, y, len(global_idx))
        total_loss += loss * len(global_idx) / group.world
        correct += int((logits.argmax(1) == y).sum())
        seen += len(y)
        bar.update()
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    bar.close()
    return total_loss, correct, seen


def _step(run: _Session, step_model: nn.Module, x: torch.Tensor, y: torch.Tensor, global_batch: int):
    """One optimizer step; returns (logits, loss value).

    One process: the mean over the batch; N processes: each process's sum over its share
    divided by the global batch size, times N (DDP averages the N gradients): the same loss."""
    logits = step_model(x)
    if run.group.world == 1:
        loss = nn.functional.cross_entropy(logits, y)
    else:
        loss = nn.functional.cross_entropy(logits, y, reduction="sum") * (run.group.world / global_batch)
    run.optimizer.zero_grad()
    loss.backward()
    run.optimizer.step()
    run.scheduler.step()
    _clip_latent_binary_weights(run.model)
    return logits, loss.item()


def _end_epoch(run: _Session, epoch: int, stats, t0: float, train_seconds: float) -> None:
    """Main process: evaluate, log, append to the history and write the checkpoint."""
    total_loss, correct, seen = stats
    test_acc = evaluate(run.model, run.dataset.x_test, run.dataset.y_test)
    entry = {
        "epoch": epoch + 1,
        "loss": total_loss / seen,
        "train_accuracy": correct / seen,
        "test_accuracy": test_acc,
        "seconds": time.time() - t0,
        "train_seconds": train_seconds,  # the training steps alone (no evaluation)
    }
    run.history.append(entry)
    run.log(
        f"epoch {epoch + 1}/{run.train_cfg.epochs}  loss {entry['loss']:.4f}  train acc {entry['train_accuracy']:.4f}"
        f"  test acc {test_acc:.4f}  ({entry['seconds']:.1f} s)"
    )
    runlib.save_checkpoint(
        run.run_dir,
        {
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "epoch": epoch + 1,
            "history": run.history,
        },
    )


def _final_metrics(run: _Session) -> dict:
    history, model, dataset = run.history, run.model, run.dataset
    return {
        "processes": run.group.world,
        "test_accuracy": history[-1]["test_accuracy"] if history else evaluate(model, dataset.x_test, dataset.y_test),
        "best_test_accuracy": max((h["test_accuracy"] for h in history), default=None),
        "epochs": len(history),
        "parameter_count": parameter_count(model),
        "seconds_per_epoch": float(np.mean([h["seconds"] for h in history])) if history else None,
        "train_images": len(dataset.x_train),
        "test_images": len(dataset.x_test),
        "model": dataclasses.asdict(run.model_cfg),
        "history": history,
    }
