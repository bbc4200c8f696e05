"""Frozen mode: a fixed encoder embeds every web image of a world (and the target) once, cached on disk.

With training off the reward of a web image never changes, so agents can be compared over thousands of queries
in seconds: :func:`embed_world` and :func:`embed_target` return ``(N, D)`` float32 L2-normalised embeddings,
computed once and kept under ``<cache>/frozen/`` keyed by the world's (or target's) content, the encoder's
weights and the image size, and :class:`FrozenRewards` turns them into a per-image reward table.

Encoders (by name):

- ``efficientnet_lite0``: ImageNet-pretrained EfficientNet-Lite0 (the paper starts from a pretrained encoder);
  it sees small images upsampled to 64 px, ``efficientnet_lite0-96px`` to 96 px (better features, ~2x slower).
- ``resnet18`` or ``random``: the learner's half-width ResNet-18 at random initialisation (seed 0); append
  ``@<seed>`` for another seed (``random@3``).
- ``checkpoint:<path>`` (or a path ending in ``.pt``): a learner checkpoint written by :meth:`Learner.save`.

Precision (:data:`PRECISIONS`): the trunk runs under bfloat16 autocast where the CPU has native bfloat16 matrix
products (AVX-512 BF16 or AMX: ``auto``, the default) and in float32 elsewhere; ``IE_TRUNK_PRECISION`` (``auto``,
``bf16``, ``fp32``) overrides it. On the 2-core machine bfloat16 runs EfficientNet-Lite0 at 64 px ~2.5-4x faster
with cosine ~0.999 to float32 (``experiments/bench_trunk.py`` measures speed, cosine and the kNN accuracy of both).
The precision is part of every cache key, so float32 and bfloat16 features never mix.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ie_env.atomic import atomic_save_npy
from ie_env.data.text_embedding import bf16_supported, duration
from ie_env.learning.learner import Learner, LearnerConfig
from ie_env.learning.reward import RelevanceReward, RewardConfig
from ie_env.paths import cache_dir

PRECISIONS = ("auto", "bf16", "fp32")


class FrozenError(ValueError):
    """An unknown encoder name or a checkpoint that cannot be read."""


def trunk_precision(precision: str = "auto", device: str = "cpu") -> str:
    """The precision a frozen trunk runs in: ``bf16`` or ``fp32`` (``auto``: ``IE_TRUNK_PRECISION`` when set, else
    bf16 on a CPU with native bfloat16 products; a GPU keeps fp32)."""
    if precision == "auto":
        precision = os.environ.get("IE_TRUNK_PRECISION", "auto")
    if precision not in PRECISIONS:
        raise FrozenError(f"trunk precision {precision!r} unknown: use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if str(device).startswith("cpu") and bf16_supported() else "fp32"
    return precision


def _weights_digest(module: torch.nn.Module) -> str:
    """A short hash of a module's parameters and buffers (the cache key follows the actual weights)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


class FrozenEncoder:
    """A fixed image encoder with disk-cached embeddings of worlds and targets.

    Args:
        encoder: encoder name (see the module docstring) or a :class:`Learner` to freeze as it is.
        image_size: side in pixels images are brought to before embedding (a given Learner keeps its own).
        batch_size: images per forward pass.
        chunk: images decoded from the world per batch of work (bounds memory).
        progress: show tqdm progress bars.
        precision: ``auto``, ``bf16`` or ``fp32`` (see the module docstring and :func:`trunk_precision`).
    """

    def __init__(self, encoder: str | Learner = "efficientnet_lite0", image_size: int = 32, batch_size: int = 256,
                 chunk: int = 4096, progress: bool = True, precision: str = "auto"):
        if image_size < 8:
            raise FrozenError(f"image_size={image_size} is too small: use 8 or more")
        self.image_size, self.batch_size, self.chunk, self.progress = image_size, batch_size, chunk, progress
        if isinstance(encoder, Learner):  # frozen as it is, at its own image size
            self.learner, label = encoder, "learner"
            self.image_size = encoder.config.image_size
        else:
            self.learner, label = self._build(str(encoder), image_size), str(encoder)
            self.learner.config.image_size = image_size
        self.label = label
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(label).name)[:40]
        bb = self.learner.model.backbone
        self.precision = trunk_precision(precision, str(self.learner.device))
        """``bf16`` or ``fp32``: what the trunk runs in."""
        self.key = (f"{safe}-{_weights_digest(bb)}-{self.image_size}px-in{bb.min_input}"
                    + ("-bf16" if self.precision == "bf16" else ""))
        """Cache identity: encoder label, hash of the backbone weights, image size, precision."""

    @staticmethod
    def _build(name: str, image_size: int) -> Learner:
        if name.startswith("checkpoint:") or name.endswith(".pt"):
            path = Path(name.removeprefix("checkpoint:"))
            if not path.exists():
                raise FrozenError(f"no learner checkpoint at {path}: train one and save it with Learner.save")
            return Learner.load(path)
        base, _, seed = name.partition("@")
        try:
            seed_value = int(seed) if seed else 0
        except ValueError:
            raise FrozenError(f"encoder {name!r}: the part after '@' must be an integer seed") from None
        if base == "efficientnet_lite0" or (base.startswith("efficientnet_lite0-") and base.endswith("px")):
            px = base.removeprefix("efficientnet_lite0").strip("-").removesuffix("px")
            if px and not px.isdigit():
                raise FrozenError(f"encoder {name!r}: write the input size as efficientnet_lite0-<pixels>px")
            cfg = LearnerConfig(backbone="efficientnet_lite0", pretrained=True, image_size=image_size,
                                min_input=int(px or 0), seed=seed_value, proj_hidden=64, proj_dim=32)
        elif base in ("resnet18", "random"):
            cfg = LearnerConfig(backbone="resnet18", width=0.5, image_size=image_size, seed=seed_value,
                                proj_hidden=64, proj_dim=32)
        else:
            raise FrozenError(f"unknown frozen encoder {name!r}: use efficientnet_lite0, resnet18 (random init), "
                              "random@<seed> or checkpoint:<path>")
        return Learner(cfg)

    @property
    def dim(self) -> int:
        return self.learner.feat_dim

    def autocast(self):
        """The context the trunk runs in: bfloat16 autocast when :attr:`precision` is ``bf16``."""
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Embeddings ``(N, D)`` float32, L2-normalised, of uint8 ``(N, H, W, 3)`` images (not cached)."""
        with self.autocast():
            return self.learner.embed(images, batch_size=self.batch_size)

    def _cached(self, path: Path, n: int, compute) -> np.ndarray:
        if path.exists():
            try:
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
                if arr.shape == (n, self.dim) and arr.dtype == np.float32:
                    return arr
            except (OSError, ValueError):
                pass
            path.unlink(missing_ok=True)
        arr = compute()
        atomic_save_npy(path, arr)
        return np.load(path, mmap_mode="r", allow_pickle=False)

    def world_embeddings(self, world) -> np.ndarray:
        """Embeddings of every image of ``world`` in catalogue order (read-only memmap, cached on disk)."""
        digest = hashlib.sha256("\n".join(world.sha256).encode()).hexdigest()[:12]
        path = cache_dir() / "frozen" / f"world-{world.name}-{digest}" / f"{self.key}.npy"
        n = len(world.sha256)

        def compute() -> np.ndarray:
            out = np.empty((n, self.dim), np.float32)
            bar = tqdm(total=n, desc=f"embedding {world.name} ({self.label})", unit="img", disable=not self.progress)
            start = time.perf_counter()
            for i in range(0, n, self.chunk):
                idx = list(range(i, min(n, i + self.chunk)))
                out[i:i + len(idx)] = self.embed(world.load_images(idx, self.image_size))
                bar.update(len(idx))
                if i == 0 and self.progress and n > self.chunk:  # the notice's estimate: the first chunk's rate
                    left = (time.perf_counter() - start) * (n - len(idx)) / len(idx)
                    tqdm.write(f"first use of frozen mode on {world.name}: embedding its {n:,} images with "
                               f"{self.label} ({self.precision}), about {duration(left)} more (measured on the "
                               f"first {len(idx):,}); done once, cached in {path.parent}", file=sys.stderr)
            bar.close()
            return out

        return self._cached(path, n, compute)

    def target_embeddings(self, target, split: str = "train") -> np.ndarray:
        """Embeddings of one split (``train``, ``probe_train`` or ``test``) of a :class:`TargetData`, cached."""
        if split not in ("train", "probe_train", "test"):
            raise FrozenError(f"split {split!r} unknown: use train, probe_train or test")
        images = getattr(target, split)
        return self.array_embeddings(images, f"target-{target.name}-{split}")

    def array_embeddings(self, images: np.ndarray, name: str) -> np.ndarray:
        """Embeddings of an image array, cached under ``name`` and a hash of the pixels."""
        images = np.ascontiguousarray(images)
        digest = hashlib.sha256(images.tobytes()).hexdigest()[:12]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        path = cache_dir() / "frozen" / f"{safe}-{digest}" / f"{self.key}.npy"

        def compute() -> np.ndarray:
            out = np.empty((len(images), self.dim), np.float32)
            for i in tqdm(range(0, len(images), self.chunk), desc=f"embedding {name} ({self.label})",
                          disable=not self.progress or len(images) <= self.chunk):
                out[i:i + self.chunk] = self.embed(images[i:i + self.chunk])
            return out

        return self._cached(path, len(images), compute)


_ENCODERS: dict[tuple[str, int], FrozenEncoder] = {}


def get_encoder(encoder: str, image_size: int = 32) -> FrozenEncoder:
    """A shared :class:`FrozenEncoder` per (name, image size) within a process."""
    key = (encoder, image_size)
    if key not in _ENCODERS:
        _ENCODERS[key] = FrozenEncoder(encoder, image_size)
    return _ENCODERS[key]


def embed_world(world, encoder: str = "efficientnet_lite0", image_size: int = 32) -> np.ndarray:
    """``(N, D)`` float32 embeddings of every web image of ``world`` (cached; read-only memmap)."""
    return get_encoder(encoder, image_size).world_embeddings(world)


def embed_target(target, encoder: str = "efficientnet_lite0", image_size: int = 32, split: str = "train") -> np.ndarray:
    """``(N, D)`` float32 embeddings of a target split (cached; read-only memmap)."""
    return get_encoder(encoder, image_size).target_embeddings(target, split)


class FrozenRewards:
    """The relevance reward of every web image under a frozen encoder: a query's reward is a table look-up.

    Args:
        world: an opened world (see :func:`offline_cache.tinyweb.open_world`).
        target: a :class:`ie_env.data.targets.TargetData`.
        encoder: frozen encoder name.
        image_size: side in pixels images are embedded at.
        reward: reward options (k, query aggregation).
        reference: number of target train images used as the reward's reference set (a fixed random subset
            drawn with ``seed``; 0 = all).
    """

    def __init__(self, world, target, encoder: str = "efficientnet_lite0", image_size: int = 32,
                 reward: RewardConfig | None = None, reference: int = 0, seed: int = 0):
        self.encoder = get_encoder(encoder, image_size)
        self.reward = RelevanceReward(reward)
        ref = self.encoder.target_embeddings(target, "train")
        if 0 < reference < len(ref):
            ref = ref[np.sort(np.random.default_rng(seed).choice(len(ref), reference, replace=False))]
        self.reward.set_target(np.ascontiguousarray(ref, np.float32))
        web = self.encoder.world_embeddings(world)
        out = np.empty(len(web), np.float32)
        for i in range(0, len(web), 16384):
            out[i:i + 16384] = self.reward.image_rewards(np.ascontiguousarray(web[i:i + 16384]))
        self.rewards = out
        """Per-image reward of every web image, catalogue order."""

    def image_rewards(self, indices) -> np.ndarray:
        return self.rewards[np.asarray(indices, np.int64)]

    def query_reward(self, indices) -> float:
        return self.reward.query_reward(self.image_rewards(indices))
