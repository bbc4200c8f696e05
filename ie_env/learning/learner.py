"""The self-supervised learner: MoCo v3 (default) or SimSiam on a mix of web candidates, replay and target images.

Written from the papers (Chen, Xie, He 2021, "An Empirical Study of Training Self-Supervised Vision
Transformers" for MoCo v3; Chen, He 2021, "Exploring Simple Siamese Representation Learning" for SimSiam),
scaled to a CPU.

- **MoCo v3**: a base encoder (backbone + projection MLP + prediction MLP) and a momentum encoder (backbone +
  projection MLP, an exponential moving average of the base). Two views per image; the loss is the symmetric
  InfoNCE ``ctr(q1, k2) + ctr(q2, k1)`` where ``ctr(q, k) = 2 tau * CE(q k^T / tau, diagonal)`` with the keys of
  the other images in the batch as negatives (no queue).
- **SimSiam**: one encoder (backbone + projection MLP) and a predictor; loss ``-(cos(p1, sg(z2)) + cos(p2,
  sg(z1))) / 2``.

Training on a mix (Internet Explorer, section 3): with PCR = 2, every batch holds one new candidate image for
every two images drawn from the replay buffer and the target's unlabelled train split. After the call, the top
``replay_keep`` share of the candidates by reward join the replay buffer (oldest evicted beyond capacity).

Everything random (initialisation, sampling, augmentation) comes from the seed: the model is initialised under
``torch.manual_seed(seed)`` inside a forked RNG, and sampling/augmentation draw from the learner's own
``torch.Generator``, whose state is part of :meth:`Learner.state_dict`, so a run resumed from a checkpoint
continues bit-for-bit.

Under ``torchrun --nproc_per_node=N`` the learner trains with DistributedDataParallel, each process on its slice of
the same global batch (:mod:`ie_env.learning.distributed`); ``device="cuda"`` trains on a GPU.
"""
from __future__ import annotations

import copy
import io
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ie_env.atomic import atomic_write_bytes
from ie_env.failpoints import failpoint
from ie_env.learning import distributed
from ie_env.learning.augment import (
    AugmentConfig,
    TwoViewAugment,
    resize_batch,
    resize_uint8,
    to_float_nchw,
)
from ie_env.learning.backbones import make_backbone

OBJECTIVES = ("moco", "simsiam")
OPTIMIZERS = ("sgd", "adamw")


class LearnerError(ValueError):
    """Bad configuration or bad input images for the learner."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the step."""


@dataclass
class LearnerConfig:
    """Configuration of the self-supervised learner (defaults sized for a 2-core CPU at 32x32)."""

    objective: str = "moco"
    """Self-supervised objective: ``moco`` (MoCo v3, momentum encoder + InfoNCE) or ``simsiam``."""
    backbone: str = "resnet18"
    """Backbone name, see :func:`ie_env.learning.backbones.make_backbone` (``resnet18``, ``resnet50`` or
    ``efficientnet_lite0``)."""
    width: float = 0.5
    """Channel multiplier of ``resnet18`` (0.5 = half width)."""
    pretrained: bool = False
    """Start from ImageNet weights (``efficientnet_lite0`` only)."""
    keep_stages: int = -1
    """With ``pretrained``: keep the pretrained weights of the lowest this many backbone stages only and
    re-initialise the rest (-1: all). ``efficientnet_lite0`` has 9 stages (stem, 7 MBConv stages, head conv)."""
    freeze_stages: int = 0
    """Freeze the lowest this many backbone stages (no gradient, fixed BatchNorm statistics; run without
    autograd, so a step is cheaper). ``resnet18`` has 5 stages (stem, layer1..4)."""
    upper_width: int = 0
    """With ``keep_stages`` >= 1: replace the backbone's stages above the kept ones by a small upper stage
    (conv3x3 to this width, conv3x3 stride 2 to twice it; features 2x this wide). 0: the backbone's own."""
    stem_stride: int = 1
    """Stride of the ``resnet18`` stem: 1 (CIFAR adaptation, the default) or 2 (~3x cheaper on a CPU)."""
    min_input: int = 0
    """Upsample inputs smaller than this before the backbone (0: backbone default, 64 for efficientnet_lite0)."""
    image_size: int = 32
    """Side in pixels of the images the learner trains and embeds at; inputs of another size are resized."""
    batch_size: int = 128
    """Images per training step (each seen as two views)."""
    lr: float = 2e-3
    """Learning rate (constant: the loop trains continually, so there is no schedule to an end)."""
    optimizer: str = "adamw"
    """``adamw`` (fast start from scratch on a small budget) or ``sgd`` (momentum 0.9, the papers' choice)."""
    weight_decay: float = 1e-5
    """Weight decay of the optimiser."""
    steps_per_iteration: int = 20
    """Optimiser steps per :meth:`Learner.train` call."""
    pcr: float = 2.0
    """Replay ratio: images drawn from replay buffer + target per new candidate image in a batch (paper: 2)."""
    momentum: float = 0.99
    """EMA coefficient of the MoCo momentum encoder (ignored by SimSiam)."""
    temperature: float = 0.2
    """InfoNCE temperature of MoCo."""
    proj_hidden: int = 1024
    """Hidden width of the projection and prediction MLPs."""
    proj_dim: int = 128
    """Output width of the projection and prediction MLPs."""
    replay_keep: float = 0.5
    """Share of each call's candidates (the top by reward) that join the replay buffer (paper: 0.5)."""
    replay_capacity: int = 20000
    """Most images the replay buffer holds; the oldest are dropped beyond it."""
    embed_batch_size: int = 512
    """Images per forward pass in :meth:`Learner.embed`."""
    seed: int = 0
    """Seed of initialisation, sampling and augmentation."""
    threads: int = 0
    """torch intra-op threads (0: leave torch's setting alone)."""
    device: str = "cpu"
    """``cpu`` or ``cuda`` (under torchrun, the GPU of the process's local rank); an error when no GPU is there."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    """Augmentation strengths."""

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig(**self.augment)
        if self.objective not in OBJECTIVES:
            raise LearnerError(f"objective {self.objective!r} unknown: use one of {', '.join(OBJECTIVES)}")
        if self.optimizer not in OPTIMIZERS:
            raise LearnerError(f"optimizer {self.optimizer!r} unknown: use one of {', '.join(OPTIMIZERS)}")
        if self.batch_size < 2:
            raise LearnerError(f"batch_size={self.batch_size}: contrastive learning needs at least 2 images a batch")
        if self.image_size < 8:
            raise LearnerError(f"image_size={self.image_size} is too small: use 8 or more (32 is the CPU default)")
        if not 0 <= self.replay_keep <= 1:
            raise LearnerError(f"replay_keep={self.replay_keep} must lie in [0, 1]")
        if self.pcr < 0:
            raise LearnerError(f"pcr={self.pcr} must be >= 0")
        if not 0 <= self.momentum <= 1:
            raise LearnerError(f"momentum={self.momentum} must lie in [0, 1]")
        if self.temperature <= 0:
            raise LearnerError(f"temperature={self.temperature} must be > 0")


@dataclass
class TrainStats:
    """What one :meth:`Learner.train` call did."""

    steps: int
    """Optimiser steps taken."""
    images: int
    """Images seen (each as two views)."""
    candidate_images: int
    """Of which new candidate images."""
    losses: list[float]
    """Loss of every step."""
    seconds: float
    """Wall time of the call."""
    replay_size: int
    """Replay buffer size after the call."""
    replay_added: int
    """Candidates that joined the replay buffer."""

    @property
    def loss(self) -> float:
        """Mean loss over the call (NaN when no step ran)."""
        return float(np.mean(self.losses)) if self.losses else float("nan")

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


def _mlp(dim_in: int, hidden: int, dim_out: int, layers: int, last_bn: bool) -> nn.Sequential:
    """Linear-BN-ReLU blocks, then a last linear layer (optionally followed by an affine-free BN)."""
    mods: list[nn.Module] = []
    d = dim_in
    for _ in range(layers - 1):
        mods += [nn.Linear(d, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
        d = hidden
    mods.append(nn.Linear(d, dim_out, bias=not last_bn))
    if last_bn:
        mods.append(nn.BatchNorm1d(dim_out, affine=False))
    return nn.Sequential(*mods)


class SSLModel(nn.Module):
    """Backbone + projector (+ predictor); ``encode`` gives backbone features, ``forward`` the head outputs."""

    def __init__(self, cfg: LearnerConfig):
        super().__init__()
        self.backbone, self.feat_dim = make_backbone(cfg.backbone, cfg.width, cfg.pretrained, cfg.stem_stride,
                                                     cfg.min_input, cfg.keep_stages, cfg.freeze_stages,
                                                     cfg.upper_width)
        # MoCo v3: 3-layer projector and 2-layer predictor, BN on outputs; SimSiam: 3-layer projector with BN
        # on its output, 2-layer bottleneck predictor without.
        moco = cfg.objective == "moco"
        self.projector = _mlp(self.feat_dim, cfg.proj_hidden, cfg.proj_dim, 3, last_bn=True)
        pred_hidden = cfg.proj_hidden if moco else max(cfg.proj_dim // 4, 8)
        self.predictor = _mlp(cfg.proj_dim, pred_hidden, cfg.proj_dim, 2, last_bn=moco)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Projections, predictions and the frozen lower stages' features (computed once, shared with the momentum
        encoder): what a training step differentiates; DDP wraps this call."""
        low = self.backbone.lower(x)
        z = self.projector(self.backbone.upper(low))
        return z, self.predictor(z), low


def _check_images(name: str, images, allow_empty: bool = True) -> np.ndarray:
    if images is None:
        images = np.zeros((0, 8, 8, 3), np.uint8)
    images = np.asarray(images)
    if images.ndim == 3 and images.shape[0] > 0 and images.dtype == np.uint8:  # grayscale (N, H, W)
        images = np.repeat(images[..., None], 3, axis=-1)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise LearnerError(f"{name} must be uint8 images shaped (N, H, W, 3), got shape {images.shape}")
    if images.dtype != np.uint8:
        raise LearnerError(f"{name} must be uint8 (0-255), got {images.dtype}: convert with "
                           "(x * 255).round().astype(np.uint8) if it holds floats in [0, 1]")
    if not allow_empty and len(images) == 0:
        raise LearnerError(f"{name} is empty: the learner needs at least one image there")
    if len(images) and min(images.shape[1:3]) < 2:
        raise LearnerError(f"{name} images are {images.shape[1]}x{images.shape[2]} pixels: too small to learn from")
    return images


def mixed_batches(candidates: np.ndarray, pool: list[np.ndarray], steps: int, batch_size: int, pcr: float,
                  gen: torch.Generator):
    """Yield ``(batch, n_candidates)`` for each of ``steps`` steps: ``round(batch_size / (1 + pcr))`` rows of
    ``candidates`` (cycling in a fresh random order per pass), the rest drawn uniformly (with replacement) from the
    arrays of ``pool`` (replay buffer + target) together. Rows may be images or anything indexable alike."""
    bs = batch_size
    pool_sizes = [len(p) for p in pool]
    pool_total = sum(pool_sizes)
    n_cand = 0
    if len(candidates):
        n_cand = bs if pool_total == 0 else min(bs - 1, max(1, round(bs / (1 + pcr))))
    if n_cand == 0 and pool_total == 0:
        raise LearnerError("nothing to train on: candidates, replay buffer and target train are all empty")
    offsets = np.cumsum([0] + pool_sizes)
    order, cursor = torch.empty(0, dtype=torch.long), 0
    for _ in range(steps):
        parts = []
        if n_cand:
            take = []
            while len(take) < n_cand:
                if cursor >= len(order):
                    order, cursor = torch.randperm(len(candidates), generator=gen), 0
                chunk = order[cursor:cursor + n_cand - len(take)]
                cursor += len(chunk)
                take.extend(chunk.tolist())
            parts.append(candidates[np.sort(np.asarray(take))])
        n_pool = bs - n_cand
        if n_pool:
            idx = torch.randint(pool_total, (n_pool,), generator=gen).numpy()
            src = np.searchsorted(offsets, idx, side="right") - 1
            for s, arr in enumerate(pool):
                sel = idx[src == s] - offsets[s]
                if len(sel):
                    parts.append(arr[np.sort(sel)])
        yield np.concatenate(parts), n_cand


def check_rewards(rewards, n: int) -> np.ndarray | None:
    """Candidate rewards as float32 ``(n,)`` (``None`` stays ``None``): one finite value per candidate."""
    if rewards is None:
        return None
    rewards = np.asarray(rewards, np.float32).reshape(-1)
    if len(rewards) != n:
        raise LearnerError(f"candidate_rewards has {len(rewards)} values for {n} candidates: give one reward per "
                           "candidate image")
    if not np.isfinite(rewards).all():
        raise LearnerError("candidate_rewards holds NaN or infinite values: compute rewards on finite embeddings")
    return rewards


def optimizer_step(learner, loss: torch.Tensor, value: float, hint: str) -> None:
    """One SSL step of ``learner`` (a :class:`Learner` or a head learner: ``optimizer``, ``model``,
    ``momentum_model``, ``config.momentum``, ``step``) on ``loss`` whose value is ``value``: back-propagate, step,
    move the momentum encoder, count the step. A loss that is not finite raises :class:`TrainingDiverged`, its
    message ending with ``hint``."""
    if not math.isfinite(value):
        raise TrainingDiverged(f"loss became {value} at step {learner.step}{hint}")
    learner.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    learner.optimizer.step()
    if learner.momentum_model is not None:
        ema_update(learner.momentum_model, learner.model, learner.config.momentum)
    learner.step += 1
    failpoint("train")


@torch.no_grad()
def ema_update(momentum_model: nn.Module, model: nn.Module, m: float) -> None:
    """Momentum encoder update: its parameters move to ``m`` x themselves + (1 - m) x the model's; its buffers
    (BatchNorm statistics) are copied. Parameters and buffers are matched by name."""
    online = dict(model.named_parameters())
    for name, p in momentum_model.named_parameters():
        p.mul_(m).add_(online[name].detach(), alpha=1 - m)
    online_buffers = dict(model.named_buffers())
    for name, b in momentum_model.named_buffers():
        b.copy_(online_buffers[name])


def keep_top(buffer: np.ndarray, buffer_rewards: np.ndarray, candidates: np.ndarray, rewards: np.ndarray | None,
             share: float, capacity: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The replay buffer after the top ``share`` of ``candidates`` by reward join it (oldest dropped beyond
    ``capacity``): ``(buffer, buffer_rewards, added)``."""
    if rewards is None or len(candidates) == 0 or capacity <= 0:
        return buffer, buffer_rewards, 0
    keep = int(math.floor(share * len(candidates)))
    if keep == 0:
        return buffer, buffer_rewards, 0
    top = np.sort(np.argsort(-rewards, kind="stable")[:keep])
    return (np.concatenate([buffer, candidates[top]])[-capacity:],
            np.concatenate([buffer_rewards, rewards[top]])[-capacity:], keep)


class Resumable:
    """Checkpoints shared by the learners (:class:`Learner`, :class:`ie_env.learning.head.HeadLearner`), which
    hold the same parts: ``config``, ``model``, ``momentum_model`` (or ``None``), ``optimizer``, ``generator``,
    ``replay``, ``replay_rewards`` and ``step``."""

    config_class: type
    """The learner's configuration dataclass."""
    architecture_keys: tuple[str, ...] = ()
    """Configuration fields that fix the weights' shapes: a checkpoint must agree on them."""

    def state_dict(self) -> dict:
        """Everything needed to resume bit-for-bit; only tensors and plain containers (torch.load(weights_only=True))."""
        return {
            "config": asdict(self.config),
            "model": self.model.state_dict(),
            "momentum_model": self.momentum_model.state_dict() if self.momentum_model is not None else {},
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "replay": torch.from_numpy(self.replay.copy()),
            "replay_rewards": torch.from_numpy(self.replay_rewards.copy()),
            "step": self.step,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` taken from a learner with the same architecture."""
        saved = state.get("config", {})
        for key in self.architecture_keys:
            if key in saved and saved[key] != getattr(self.config, key):
                raise LearnerError(f"checkpoint has {key}={saved[key]!r} but this learner has "
                                   f"{getattr(self.config, key)!r}: build the learner with "
                                   f"{type(self).__name__}.from_state_dict")
        self.model.load_state_dict(state["model"])
        if self.momentum_model is not None:
            self.momentum_model.load_state_dict(state["momentum_model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.replay = state["replay"].numpy().copy()
        self.replay_rewards = state["replay_rewards"].numpy().copy()
        self.step = int(state["step"])

    @classmethod
    def from_state_dict(cls, state: dict):
        """A learner built from the configuration stored in ``state``, with its weights and buffers."""
        known = {f.name for f in fields(cls.config_class)}
        learner = cls(cls.config_class(**{k: v for k, v in state["config"].items() if k in known}))
        learner.load_state_dict(state)
        return learner

    def save(self, path: str | Path) -> None:
        """Write a checkpoint atomically (``torch.save`` of :meth:`state_dict`)."""
        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path):
        """Rebuild a learner from a checkpoint written by :meth:`save`."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no learner checkpoint at {path}")
        return cls.from_state_dict(torch.load(path, map_location="cpu", weights_only=True))


class Learner(Resumable):
    """A self-supervised learner that trains on candidate + replay + target images and embeds images.

    Args:
        config: the learner's configuration.
    """

    config_class = LearnerConfig
    architecture_keys = ("objective", "backbone", "width", "stem_stride", "min_input", "proj_hidden", "proj_dim",
                         "keep_stages", "upper_width")

    def __init__(self, config: LearnerConfig | None = None):
        self.config = cfg = config or LearnerConfig()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = distributed.setup(cfg.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.model = SSLModel(cfg).to(self.device)
        if distributed.world_size() > 1:
            self.model = distributed.global_batchnorm(self.model, self.device)
        self.momentum_model: SSLModel | None = None
        if cfg.objective == "moco":
            self.momentum_model = copy.deepcopy(self.model)
            del self.momentum_model.predictor
            for p in self.momentum_model.parameters():
                p.requires_grad_(False)
        self.online = distributed.wrap(self.model, self.device)
        """The model's training forward (in DistributedDataParallel when several processes train)."""
        self.optimizer = self._make_optimizer()
        self.augment = TwoViewAugment(cfg.image_size, cfg.augment, self.device)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.replay = np.zeros((0, cfg.image_size, cfg.image_size, 3), np.uint8)
        self.replay_rewards = np.zeros(0, np.float32)
        self.step = 0

    # ------------------------------------------------------------------ setup

    def _make_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    @property
    def feat_dim(self) -> int:
        """Dimension of the embeddings :meth:`embed` returns."""
        return self.model.feat_dim

    def reseed(self, seed: int) -> None:
        """Restart the sampling/augmentation random stream from ``seed`` (weights and buffers are kept)."""
        self.generator.manual_seed(int(seed))

    # --------------------------------------------------------------- training

    def _prepare(self, name: str, images, allow_empty: bool = True) -> np.ndarray:
        """Validate and bring images to ``image_size`` (uint8 NHWC)."""
        return resize_uint8(_check_images(name, images, allow_empty), self.config.image_size)

    def _loss(self, v1: torch.Tensor, v2: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        x = torch.cat([v1, v2])  # one pass for both views: same BN statistics, faster on CPU
        z, p, low = self.online(x)
        p1, p2 = p.chunk(2)
        if cfg.objective == "simsiam":
            z1, z2 = z.detach().chunk(2)
            return -(F.cosine_similarity(p1, z2, dim=1).mean() + F.cosine_similarity(p2, z1, dim=1).mean()) / 2
        with torch.no_grad():
            mom = self.momentum_model
            k1, k2 = mom.projector(mom.backbone.upper(low)).chunk(2)
        return self._infonce(p1, k2) + self._infonce(p2, k1)

    def _infonce(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        tau = self.config.temperature
        logits = F.normalize(q, dim=1) @ F.normalize(distributed.gather(k), dim=1).T / tau  # every rank's keys
        labels = torch.arange(len(q), device=q.device) + distributed.rank() * len(q)
        return F.cross_entropy(logits, labels) * (2 * tau)

    def train(self, candidates: np.ndarray | None, candidate_rewards: np.ndarray | None,
              target_train: np.ndarray, steps: int | None = None) -> TrainStats:
        """Train ``steps`` (default ``config.steps_per_iteration``) steps on candidates + replay + target.

        Args:
            candidates: uint8 ``(N, H, W, 3)`` new web images of this iteration (may be empty or None).
            candidate_rewards: ``(N,)`` reward of each candidate; the top ``replay_keep`` share joins the
                replay buffer after training. ``None``: no candidate joins it.
            target_train: uint8 ``(M, H, W, 3)`` unlabelled target images (any size; resized to ``image_size``).
        Raises:
            LearnerError: bad shapes or dtypes, or nothing to train on.
            TrainingDiverged: the loss became NaN or infinite (the message names the step).
        """
        cfg = self.config
        start = time.perf_counter()
        candidates = self._prepare("candidates", candidates)
        target = self._prepare("target_train", target_train)
        candidate_rewards = check_rewards(candidate_rewards, len(candidates))
        steps = cfg.steps_per_iteration if steps is None else int(steps)
        if len(target) == 0 and steps > 0:
            raise LearnerError("target_train is empty: the learner trains on the target's unlabelled images "
                               "mixed with the web, so give it at least one target image")
        losses: list[float] = []
        images = cand_images = 0
        self.model.train()
        if self.momentum_model is not None:
            self.momentum_model.train()
        pool = [a for a in (self.replay, target) if len(a)]
        for batch, n_cand in mixed_batches(candidates, pool, steps, cfg.batch_size, cfg.pcr, self.generator):
            v1, v2 = self.augment(batch, self.generator, distributed.shard(len(batch)))  # this process's slice
            loss = self._loss(v1, v2)
            value = distributed.mean(float(loss.detach()))
            optimizer_step(self, loss, value, f" (call step {len(losses)}): lower the learning rate (lr={cfg.lr}) "
                                              "or check the input images")
            losses.append(value)
            images += len(batch)
            cand_images += n_cand
        added = self._update_replay(candidates, candidate_rewards)
        return TrainStats(len(losses), images, cand_images, losses, time.perf_counter() - start,
                          len(self.replay), added)

    def _update_replay(self, candidates: np.ndarray, rewards: np.ndarray | None) -> int:
        cfg = self.config
        self.replay, self.replay_rewards, added = keep_top(self.replay, self.replay_rewards, candidates, rewards,
                                                           cfg.replay_keep, cfg.replay_capacity)
        return added

    # -------------------------------------------------------------- embedding

    def reward_embed(self, images: np.ndarray) -> np.ndarray:
        """The features the relevance reward compares: this learner's :meth:`embed`."""
        return self.embed(images)

    @torch.inference_mode()
    def embed(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Backbone features of ``images`` (uint8 ``(N, H, W, 3)``, any size) as float32 ``(N, D)``, L2-normalised.

        Runs in eval mode (BatchNorm running statistics), so an image's embedding does not depend on its batch.
        """
        images = _check_images("images", images)
        out = np.empty((len(images), self.feat_dim), np.float32)
        bs = batch_size or self.config.embed_batch_size
        was_training = self.model.training
        self.model.eval()
        try:
            for i in range(0, len(images), bs):
                x = resize_batch(to_float_nchw(images[i:i + bs]).to(self.device), self.config.image_size)
                out[i:i + bs] = F.normalize(self.model.encode(x).float(), dim=1).cpu().numpy()
        finally:
            self.model.train(was_training)
        return out
