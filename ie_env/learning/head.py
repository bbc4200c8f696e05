"""The ``head`` learner: a self-supervised head trained on cached views of a frozen pretrained trunk.

The regime in which, on a CPU, the data an explorer brings changes the target's representation within an episode
(``experiments/probe_learner.py --regimes head``). Every image is seen by a frozen ImageNet-pretrained trunk (one
of the frozen mode's encoders; default EfficientNet-Lite0 at 64 px) a few times augmented in pixel space; those
trunk features are computed once per image and kept on disk (:mod:`ie_env.learning.views`). The trained part is
a head on top:

- **head**: ``Linear(D, hidden) - BatchNorm - ReLU - Linear(hidden, dim)``; its output is the representation that
  kNN accuracy and the linear probe measure;
- **objective** ``ntxent`` (default): a small projector (``BatchNorm - ReLU - Linear(dim, proj_dim)``) and the
  contrastive loss of SimCLR (NT-Xent: each view's positive is the other view of its image, every other view in
  the batch a negative) between two distinct cached views of each image; ``moco``: MoCo v3 on the same pairs (a
  momentum copy of head + projector, a predictor, symmetric InfoNCE against the other images' keys).

Training on a mix, as the image-level learner (:class:`ie_env.learning.learner.Learner`) and the paper: with
PCR = 2 one new candidate per two images from replay buffer + target in every batch, the top ``replay_keep`` of
the candidates by reward join the replay buffer (kept as their cached views, so a checkpoint holds no pixels).
The target's unlabelled train split enters through a fixed random subset of at most ``target_pool`` images.

The reward's features (``reward_features``): the head's output moves towards the target's classes as it learns,
and a head that only knows the target's classes stops telling them from the rest of the web (reward AUC falls to
~0.5-0.6 in the probe); the trunk's and the head's outputs side by side (``trunk+head``, each L2-normalised, so
an image's reward is the mean of the two cosine similarities) keep the trunk's discrimination while moving with
the head. ``head``, ``hidden`` (the head's hidden layer) and ``trunk`` (fixed) are there to measure that.

Everything random comes from ``seed`` (initialisation under a forked torch RNG, batches and view pairs from the
learner's own generator, saved in :meth:`HeadLearner.state_dict`), and an image's views from its content, so a
run replays bit for bit and resumes from a checkpoint where it stopped. Under torchrun every process trains the
same head on the whole batch (a step takes milliseconds: splitting it would cost more than it saves), so every
rank holds the same weights; only rank 0 writes the view cache.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ie_env.learning import distributed
from ie_env.learning.augment import AugmentConfig
from ie_env.learning.learner import (
    Learner,
    LearnerConfig,
    LearnerError,
    Resumable,
    TrainStats,
    _check_images,
    check_rewards,
    keep_top,
    mixed_batches,
    optimizer_step,
)
from ie_env.learning.views import get_store

HEAD_OBJECTIVES = ("ntxent", "moco")
REWARD_FEATURES = ("trunk+head", "head", "hidden", "trunk")


@dataclass
class HeadConfig:
    """Configuration of the ``head`` learner (defaults: the regime measured by ``probe_learner.py --regimes head``)."""

    kind: str = "head"
    """Learner kind (always ``head``; the image-level learner's configuration has no such field)."""
    trunk: str = "efficientnet_lite0"
    """Frozen trunk: a frozen-mode encoder name (``efficientnet_lite0``, ``efficientnet_lite0-96px``, ...)."""
    image_size: int = 64
    """Side in pixels images are brought to before the trunk (views are cropped back to it)."""
    views: int = 4
    """Augmented views cached per image (pairs of distinct ones are the positives); at least 2."""
    view_seed: int = 0
    """Seed of the views (part of the view cache's key; the same for every arm and run)."""
    objective: str = "ntxent"
    """``ntxent`` (SimCLR's contrastive loss) or ``moco`` (MoCo v3 with a momentum head and a predictor)."""
    hidden: int = 512
    """Width of the head's hidden layer."""
    dim: int = 256
    """Width of the head's output: the representation."""
    proj_dim: int = 128
    """Width of the projector's output (where the loss is taken)."""
    temperature: float = 0.2
    """Temperature of the contrastive loss."""
    momentum: float = 0.99
    """EMA coefficient of the momentum head (``moco`` only)."""
    batch_size: int = 256
    """Images per step (each seen as two views)."""
    lr: float = 1e-3
    """AdamW learning rate (constant: the loop trains continually)."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    steps_per_iteration: int = 40
    """Optimiser steps per :meth:`HeadLearner.train` call."""
    pcr: float = 2.0
    """Replay ratio: images from replay buffer + target per new candidate in a batch (paper: 2)."""
    replay_keep: float = 0.5
    """Share of each call's candidates (the top by reward) that join the replay buffer (paper: 0.5)."""
    replay_capacity: int = 20000
    """Most images the replay buffer holds; the oldest are dropped beyond it."""
    target_pool: int = 5000
    """Most target train images the head trains on (a fixed random subset: their views are computed once)."""
    reward_features: str = "trunk+head"
    """Features of the relevance reward: ``trunk+head`` (both, each L2-normalised), ``head``, ``hidden`` or
    ``trunk`` (see the module docstring)."""
    seed: int = 0
    """Seed of initialisation, batches and view pairs."""
    threads: int = 0
    """torch intra-op threads (0: leave torch's setting alone)."""
    device: str = "cpu"
    """``cpu`` or ``cuda``."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    """Strengths of the views' augmentation (part of the view cache's key)."""

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig(**self.augment)
        if self.kind != "head":
            raise LearnerError(f"kind={self.kind!r}: HeadConfig is the 'head' learner's configuration")
        if self.objective not in HEAD_OBJECTIVES:
            raise LearnerError(f"objective {self.objective!r} unknown: use one of {', '.join(HEAD_OBJECTIVES)}")
        if self.reward_features not in REWARD_FEATURES:
            raise LearnerError(f"reward_features {self.reward_features!r} unknown: use one of "
                               f"{', '.join(REWARD_FEATURES)}")
        if self.views < 2:
            raise LearnerError(f"views={self.views}: the head needs at least 2 views per image to pair")
        if self.batch_size < 2:
            raise LearnerError(f"batch_size={self.batch_size}: contrastive learning needs at least 2 images a batch")
        if self.image_size < 8:
            raise LearnerError(f"image_size={self.image_size} is too small: use 8 or more (64 is the default)")
        if not 0 <= self.replay_keep <= 1:
            raise LearnerError(f"replay_keep={self.replay_keep} must lie in [0, 1]")
        if self.pcr < 0 or self.temperature <= 0 or not 0 <= self.momentum <= 1:
            raise LearnerError("pcr must be >= 0, temperature > 0 and momentum in [0, 1]")


class Head(nn.Module):
    """The trained part: head (the representation) + projector, and the predictor of ``moco``."""

    def __init__(self, dim_in: int, cfg: HeadConfig):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(dim_in, cfg.hidden), nn.BatchNorm1d(cfg.hidden), nn.ReLU(inplace=True))
        self.out = nn.Linear(cfg.hidden, cfg.dim)
        self.projector = nn.Sequential(nn.BatchNorm1d(cfg.dim), nn.ReLU(inplace=True), nn.Linear(cfg.dim, cfg.proj_dim))
        self.predictor = (nn.Sequential(nn.Linear(cfg.proj_dim, cfg.hidden), nn.BatchNorm1d(cfg.hidden),
                                        nn.ReLU(inplace=True), nn.Linear(cfg.hidden, cfg.proj_dim))
                          if cfg.objective == "moco" else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(x))


class HeadLearner(Resumable):
    """A head trained self-supervised on cached trunk views of candidate + replay + target images.

    The same interface as :class:`ie_env.learning.learner.Learner` (``train``, ``embed``, checkpoints), plus
    :meth:`reward_embed`, the features the relevance reward is computed on.

    Args:
        config: the learner's configuration.
    """

    config_class = HeadConfig
    architecture_keys = ("trunk", "image_size", "views", "view_seed", "objective", "hidden", "dim", "proj_dim")

    def __init__(self, config: HeadConfig | None = None):
        self.config = cfg = config or HeadConfig()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = distributed.setup(cfg.device)
        self.store = get_store(cfg.trunk, cfg.image_size, cfg.views, cfg.view_seed, cfg.augment, cfg.device)
        """Cached augmented views (training)."""
        self.plain = get_store(cfg.trunk, cfg.image_size, 0, 0, None, cfg.device)
        """Cached plain views (embedding for reward and evaluation)."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.model = Head(self.store.dim, cfg).to(self.device)
        self.momentum_model: Head | None = None
        if cfg.objective == "moco":
            self.momentum_model = copy.deepcopy(self.model)
            self.momentum_model.predictor = None
            for p in self.momentum_model.parameters():
                p.requires_grad_(False)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.replay = np.zeros((0, cfg.views, self.store.dim), np.float16)
        """Views of the replay buffer's images."""
        self.replay_rewards = np.zeros(0, np.float32)
        self.step = 0
        self._target: tuple | None = None

    @property
    def feat_dim(self) -> int:
        """Dimension of the embeddings :meth:`embed` returns."""
        return self.config.dim

    def reseed(self, seed: int) -> None:
        """Restart the batch-sampling random stream from ``seed`` (weights and buffers are kept)."""
        self.generator.manual_seed(int(seed))

    # --------------------------------------------------------------- training

    def _target_views(self, target_train: np.ndarray) -> np.ndarray:
        """Views of the target pool (a fixed random subset of ``target_train``), kept for the array's lifetime."""
        if self._target is None or self._target[0] is not target_train:
            n, cap = len(target_train), self.config.target_pool
            idx = np.arange(n) if cap <= 0 or n <= cap else np.sort(np.random.default_rng(0).choice(n, cap, False))
            self._target = (target_train, self.store.features(target_train[idx]))
            self.store.flush()
        return self._target[1]

    def _pairs(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Two distinct view positions per image."""
        v = self.config.views
        a = torch.randint(v, (n,), generator=self.generator)
        b = (a + 1 + torch.randint(v - 1, (n,), generator=self.generator)) % v
        return a, b

    def _ntxent(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        z = F.normalize(torch.cat([z1, z2]), dim=1)
        n = len(z1)
        logits = z @ z.T / self.config.temperature
        logits.fill_diagonal_(float("-inf"))
        labels = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
        return F.cross_entropy(logits, labels)

    def _infonce(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        tau = self.config.temperature
        logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / tau
        return F.cross_entropy(logits, torch.arange(len(q), device=q.device)) * (2 * tau)

    def _loss(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        m = self.model
        z = m.projector(m(torch.cat([x1, x2])))  # both views in one pass: shared BatchNorm statistics
        z1, z2 = z.chunk(2)
        if self.config.objective == "ntxent":
            return self._ntxent(z1, z2)
        p1, p2 = m.predictor(z).chunk(2)
        with torch.no_grad():
            mom = self.momentum_model
            k1, k2 = mom.projector(mom(torch.cat([x1, x2]))).chunk(2)
        return self._infonce(p1, k2) + self._infonce(p2, k1)

    def train(self, candidates: np.ndarray | None, candidate_rewards: np.ndarray | None,
              target_train: np.ndarray, steps: int | None = None) -> TrainStats:
        """Train ``steps`` (default ``config.steps_per_iteration``) steps on candidates + replay + target.

        Args:
            candidates: uint8 ``(N, H, W, 3)`` new web images of this iteration (may be empty or None).
            candidate_rewards: ``(N,)`` reward of each candidate; the top ``replay_keep`` share joins the
                replay buffer after training. ``None``: no candidate joins it.
            target_train: uint8 ``(M, H, W, 3)`` unlabelled target images.
        Raises:
            LearnerError: bad shapes or dtypes, or nothing to train on.
            TrainingDiverged: the loss became NaN or infinite.
        """
        cfg = self.config
        start = time.perf_counter()
        candidates = _check_images("candidates", candidates)
        target_train = _check_images("target_train", target_train)
        candidate_rewards = check_rewards(candidate_rewards, len(candidates))
        steps = cfg.steps_per_iteration if steps is None else int(steps)
        if len(target_train) == 0 and steps > 0:
            raise LearnerError("target_train is empty: the head trains on the target's unlabelled images mixed "
                               "with the web, so give it at least one target image")
        cand = (self.store.features(candidates) if len(candidates)
                else np.zeros((0, cfg.views, self.store.dim), np.float16))
        self.store.flush()
        self.plain.flush()  # the plain views embedded since the last call (rewards, evaluation)
        pool = [a for a in (self.replay, self._target_views(target_train) if steps > 0 else ()) if len(a)]
        losses: list[float] = []
        images = cand_images = 0
        self.model.train()
        if self.momentum_model is not None:
            self.momentum_model.train()
        for batch, n_cand in mixed_batches(cand, pool, steps, cfg.batch_size, cfg.pcr, self.generator):
            a, b = self._pairs(len(batch))
            x = torch.from_numpy(batch).to(self.device).float()
            rows = torch.arange(len(batch))
            loss = self._loss(x[rows, a.to(self.device)], x[rows, b.to(self.device)])
            value = float(loss.detach())
            optimizer_step(self, loss, value, f": lower the learning rate (lr={cfg.lr})")
            losses.append(value)
            images += len(batch)
            cand_images += n_cand
        self.replay, self.replay_rewards, added = keep_top(self.replay, self.replay_rewards, cand, candidate_rewards,
                                                           cfg.replay_keep, cfg.replay_capacity)
        return TrainStats(len(losses), images, cand_images, losses, time.perf_counter() - start,
                          len(self.replay), added)

    # -------------------------------------------------------------- embedding

    def trunk_features(self, images: np.ndarray) -> np.ndarray:
        """float32 ``(N, D)`` trunk features of the images' plain views (cached)."""
        images = _check_images("images", images)
        if len(images) == 0:
            return np.zeros((0, self.store.dim), np.float32)
        return self.plain.features(images)[:, 0].astype(np.float32)

    @torch.inference_mode()
    def _head(self, trunk: np.ndarray, layer: str = "out") -> np.ndarray:
        was_training = self.model.training
        self.model.eval()
        try:
            x = torch.from_numpy(trunk).to(self.device)
            h = self.model.hidden(x)
            y = h if layer == "hidden" else self.model.out(h)
            return F.normalize(y.float(), dim=1).cpu().numpy()
        finally:
            self.model.train(was_training)

    def embed(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """The representation: the head's output for the images' plain views, float32 ``(N, dim)``,
        L2-normalised (BatchNorm in eval mode, so an image's embedding does not depend on its batch)."""
        return self._head(self.trunk_features(images))

    def reward_embed(self, images: np.ndarray, features: str | None = None) -> np.ndarray:
        """The features the relevance reward compares (``features``, default ``config.reward_features``),
        L2-normalised rows."""
        trunk = self.trunk_features(images)
        kind = features or self.config.reward_features
        if kind == "trunk":
            return F.normalize(torch.from_numpy(trunk), dim=1).numpy()
        if kind == "hidden":
            return self._head(trunk, "hidden")
        head = self._head(trunk)
        if kind == "head":
            return head
        both = np.concatenate([F.normalize(torch.from_numpy(trunk), dim=1).numpy(), head], axis=1)
        return both / np.sqrt(2, dtype=np.float32)


def make_learner(settings: dict) -> HeadLearner | Learner:
    """The learner a settings dict describes: :class:`HeadLearner` when ``settings["kind"] == "head"``, else the
    image-level :class:`ie_env.learning.learner.Learner` (``LearnerConfig`` fields)."""
    settings = dict(settings)
    if settings.pop("kind", "image") == "head":
        return HeadLearner(HeadConfig(**settings))
    return Learner(LearnerConfig(**settings))


def learner_from_state_dict(state: dict) -> HeadLearner | Learner:
    """Either learner rebuilt from its :meth:`state_dict`."""
    cls = HeadLearner if state.get("config", {}).get("kind") == "head" else Learner
    return cls.from_state_dict(state)
