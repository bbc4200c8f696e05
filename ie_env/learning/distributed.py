"""Training on several processes with torch DistributedDataParallel (``torchrun --nproc_per_node=N``).

Every process (rank) runs the whole loop on the same seed, so every rank asks the same queries and holds the same
candidates; only the learner's steps are split. For one step of global batch ``B`` (the learner's
``batch_size``, the same whatever the number of processes):

- every rank draws the same ``B`` images and the augmentation parameters of all ``B`` from the shared generator,
  then augments only its own ``B / N`` slice (:func:`shard`), so an image gets the same views as in one process;
- BatchNorm statistics are taken over the global batch: ``SyncBatchNorm`` on GPUs and :class:`GlobalBatchNorm`
  on CPUs (``SyncBatchNorm`` runs on GPUs only), both through a differentiable all-reduce;
- the MoCo keys of every rank are gathered (:func:`gather`), so each query meets the whole batch's keys as
  negatives, as in one process; DDP averages the gradients, whose mean is the one-process gradient;
- the reported loss is the mean over ranks (:func:`mean`).

So N processes follow one process's loss curve up to float rounding (``tests/test_distributed.py`` measures it).
Checkpoints, results and the run's files are written by rank 0 only (:func:`is_main`). The process group uses
gloo on CPUs and NCCL on GPUs, and is joined when the first learner is built in a process that ``torchrun``
started (``WORLD_SIZE`` > 1).
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

DEVICES = ("cpu", "cuda")


class DistributedError(ValueError):
    """An unusable device or a batch that does not split evenly over the processes."""


def check_device(device: str) -> None:
    """A one-line error unless ``device`` is ``cpu``, or ``cuda`` with a GPU that torch sees."""
    if device not in DEVICES:
        raise DistributedError(f"device={device!r}: use one of {', '.join(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise DistributedError(f"device='cuda' but torch {torch.__version__} sees no CUDA GPU: run with "
                               "device='cpu', or on a machine with a GPU and a CUDA build of torch")


def setup(device: str) -> torch.device:
    """The torch device of this process for ``device`` (``cpu`` or ``cuda``; under torchrun ``cuda`` is the GPU
    of the local rank), joining the process group first when torchrun started several processes."""
    check_device(device)
    local = int(os.environ.get("LOCAL_RANK", 0))
    if device == "cuda":
        torch.cuda.set_device(local)
    if int(os.environ.get("WORLD_SIZE", 1)) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    return torch.device("cuda", local) if device == "cuda" else torch.device("cpu")


def world_size() -> int:
    """Processes training together (1 without a process group)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """Whether this process writes the run's files: rank 0 (read from torchrun's ``RANK`` before the group exists)."""
    return rank() == 0 if dist.is_initialized() else int(os.environ.get("RANK", 0)) == 0


def shard(n: int) -> slice:
    """This rank's slice of a global batch of ``n`` (all of it in one process)."""
    size = world_size()
    if n % size:
        raise DistributedError(f"a global batch of {n} images does not split over {size} processes: use a "
                               f"batch_size divisible by {size}")
    part = n // size
    return slice(rank() * part, (rank() + 1) * part)


@torch.no_grad()
def gather(x: torch.Tensor) -> torch.Tensor:
    """Every rank's ``x`` concatenated in rank order (``x`` itself in one process); no gradient flows back."""
    if world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def mean(value: float) -> float:
    """The mean of ``value`` over ranks (``value`` in one process)."""
    if world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return float(t.item()) / world_size()


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) whose backward sums the gradients over ranks too: d(sum_r L_r)/dx reaches every rank."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm (1d or 2d) whose training statistics are those of the global batch over every rank.

    Mean, then variance, each from a differentiable all-reduce of per-rank sums (two passes, as precise as the
    one-process mean and variance); evaluation uses the running statistics like ``nn.BatchNorm``.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 4):
            raise ValueError(f"GlobalBatchNorm takes (N, C) or (N, C, H, W) inputs, got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not self.training:
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = x.numel() / x.shape[1] * world_size()
        mu = _SumOverRanks.apply(x.sum(dims)) / count
        centred = x - mu.view(shape)
        var = _SumOverRanks.apply(centred.square().sum(dims)) / count
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mu.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * count / max(count - 1, 1), alpha=m)
        return y


def global_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with every BatchNorm replaced by a global-batch one (SyncBatchNorm on CUDA), same parameters,
    buffers and names (checkpoints and the momentum update see no difference)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, GlobalBatchNorm):
            new = GlobalBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                  child.track_running_stats)
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            if child.track_running_stats:
                new.running_mean, new.running_var = child.running_mean, child.running_var
                new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(module, name, new)
        else:
            global_batchnorm(child, device)
    return module


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` inside DistributedDataParallel when several processes train (``module`` itself otherwise)."""
    if world_size() == 1:
        return module
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)
