"""Data-parallel training across processes (torchrun), CPU (gloo) or GPU (NCCL).

`torchrun --nproc-per-node N -m bnnforge train ...` (or `bnnforge train --nproc N`) starts
N copies of the training; each sees RANK / WORLD_SIZE / LOCAL_RANK in its environment.
The global batch is the user's --batch-size whatever N is: every process draws the same
global batch and takes its share (every N-th image), DistributedDataParallel averages the
gradients, and batch norm sees the statistics of the whole global batch, so one step of N
processes is one step of one process on the same batch, up to float reduction order.

PyTorch's SyncBatchNorm runs on GPUs only (and replaces the BatchNorm modules the integer
export reads); GlobalBatchNorm1d/2d do the same on CPUs and GPUs with a differentiable
all-reduce (torch.distributed.nn), two passes (mean, then variance) as PyTorch's own batch
norm computes them.
"""

from __future__ import annotations

import dataclasses
import gc
import os

import torch
import torch.distributed as dist
import torch.nn as nn


@dataclasses.dataclass(frozen=True)
class Group:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """The one process that logs and writes checkpoints and metrics."""
        return self.rank == 0

    def share(self, idx: torch.Tensor) -> torch.Tensor:
        """This process's part of a global batch (every world-th index)."""
        return idx[self.rank :: self.world]

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def sum(self, *values: float) -> list[float]:
        """Sums over the processes (for logging totals)."""
        if self.world == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> Group:
    """Join the process group torchrun describes (gloo on the CPU, NCCL on GPUs)."""
    if not launched_by_torchrun():
        return Group(device=device)
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Group(dist.get_rank(), dist.get_world_size(), device)


def teardown(group: Group) -> None:
    """Leave the process group together. The caller must have dropped its DDP wrapper first.

    Two exit hangs seen here (each about 1 run in 10): a process destroying its gloo group after
    its peers had exited waited for gloo's connection thread (hence the barrier); and the DDP
    Reducer, freed last, destroyed the gloo group while holding the GIL, joining a gloo worker
    thread that was itself waiting for the GIL to free the barrier's tensors. The Reducer is
    therefore freed first (while the group is still registered), and the group goes through
    destroy_process_group, which releases the GIL while it joins its threads.
    """
    if group.world == 1:
        return
    gc.collect()  # the dropped DDP wrapper's Reducer goes now, while the group is registered
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_reduce(t: torch.Tensor) -> torch.Tensor:
    """Differentiable sum over the processes (its backward sums the gradients)."""
    import warnings

    from torch.distributed.nn.functional import all_reduce as differentiable_all_reduce

    with warnings.catch_warnings():
        # torch 2.13 points to a private module (_functional_collectives) as the replacement
        warnings.simplefilter("ignore", FutureWarning)
        return differentiable_all_reduce(t)


def _global_batch_norm(self, x: torch.Tensor) -> torch.Tensor:
    """Batch norm over the global batch of all processes (training mode); eval as usual."""
    if not self.training:
        return super(type(self), self).forward(x)  # BatchNorm1d/2d's own forward
    dims = [0, *range(2, x.dim())]
    shape = [1, -1] + [1] * (x.dim() - 2)
    count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
    total = all_reduce(torch.cat([x.sum(dims), count]))
    n = total[-1]
    mean = total[:-1] / n
    var = all_reduce((x - mean.view(shape)).pow(2).sum(dims)) / n
    with torch.no_grad():
        self.num_batches_tracked += 1
        m = self.momentum
        self.running_mean.mul_(1 - m).add_(m * mean)
        self.running_var.mul_(1 - m).add_(m * var * n / (n - 1))
    y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
    return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


# Installed by changing a BatchNorm1d/2d's class: parameters, buffers, state-dict keys and
# isinstance(m, nn.BatchNorm2d) (which the integer export relies on) stay as they are.
class GlobalBatchNorm1d(nn.BatchNorm1d):
    forward = _global_batch_norm


class GlobalBatchNorm2d(nn.BatchNorm2d):
    forward = _global_batch_norm


def wrap(model: nn.Module, group: Group) -> nn.Module:
    """The module to call in training: the model itself for one process, else its
    DistributedDataParallel with global batch norm."""
    if group.world == 1:
        return model
    for m in model.modules():
        if type(m) is nn.BatchNorm1d:
            m.__class__ = GlobalBatchNorm1d
        elif type(m) is nn.BatchNorm2d:
            m.__class__ = GlobalBatchNorm2d
    ids = [group.device.index] if group.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)
