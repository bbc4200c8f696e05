"""Cached trunk features of every image's views: the input of the ``head`` learner (:mod:`ie_env.learning.head`).

A frozen pretrained trunk (one of the frozen mode's encoders, :mod:`ie_env.learning.frozen`) sees each image
``views`` times augmented in pixel space (random resized crop, flip, colour jitter, greyscale:
:class:`ie_env.learning.augment.TwoViewAugment`'s recipe), or, in a store with ``views=0``, once as it is (the
*plain* view, what embedding for the reward and the evaluation uses). The pooled features are computed once per
image and kept, float16, in memory and on disk, so a head trained on them costs milliseconds a step instead of a
trunk pass.

- **Keyed by content.** An image is known by the SHA-1 of its pixels at the store's ``image_size``; its
  augmentation parameters are drawn from a generator seeded by that digest and ``view_seed``, so an image has the
  same views whether it was embedded alone, in another batch, or in an earlier process: a replay from a cold
  cache equals one from a warm cache.
- **On disk** under ``<cache>/views/<trunk key>-<size>px-v<views>-s<seed>-<augment digest>/`` as ``part-*.npz``
  files (``keys``: ``S20`` digests, ``feats``: float16 ``(N, max(1, views), D)``), each written atomically by the
  process that computed it, so several processes (Ray workers, parallel comparisons) share one store safely;
  a process reads every part when it opens the store (merging them into one when there are many) and adds its
  own as it goes (:meth:`ViewStore.flush`).
  Under torchrun only rank 0 writes.
"""
from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from dataclasses import asdict

import numpy as np
import torch
from tqdm.auto import tqdm

from ie_env.atomic import atomic_write_bytes
from ie_env.learning import distributed
from ie_env.learning.augment import AugmentConfig, TwoViewAugment, resize_uint8, to_float_nchw
from ie_env.learning.frozen import get_encoder
from ie_env.paths import cache_dir

MERGE_PARTS = 64
"""A process that opens a store of more parts than this merges them into one."""


def digests(images: np.ndarray) -> list[bytes]:
    """SHA-1 of each image's pixels (uint8 ``(N, H, W, 3)``): the store's key of an image."""
    return [hashlib.sha1(np.ascontiguousarray(im).tobytes()).digest() for im in images]


class ViewStore:
    """Trunk features of images' plain and augmented views, computed once and cached (see the module docstring).

    Args:
        trunk: frozen encoder name (``efficientnet_lite0``, ``efficientnet_lite0-96px``, ...).
        image_size: side in pixels images are brought to (and views cropped back to) before the trunk.
        views: augmented views per image (0: the plain view only).
        view_seed: seed mixed into every image's augmentation generator.
        augment: augmentation strengths of the views.
        device: where the trunk runs.
        batch_size: views per trunk forward pass (256: bfloat16 runs slower at 512 on the 2-core machine).
        progress: show a progress bar when more than ``batch_size`` images need their views.
    """

    def __init__(self, trunk: str = "efficientnet_lite0", image_size: int = 64, views: int = 4, view_seed: int = 0,
                 augment: AugmentConfig | None = None, device: str = "cpu", batch_size: int = 256,
                 progress: bool = True):
        if views < 0:
            raise ValueError(f"views={views} must be >= 0")
        self.encoder = get_encoder(trunk, image_size)
        self.image_size, self.views, self.view_seed = image_size, views, int(view_seed)
        self.augment_config = augment or AugmentConfig()
        self.augment = TwoViewAugment(image_size, self.augment_config)
        self.device = torch.device(device)
        self.model = self.encoder.learner.model.to(self.device).eval()
        self.batch_size, self.progress = batch_size, progress
        aug = hashlib.sha256(repr(sorted(asdict(self.augment_config).items())).encode()).hexdigest()[:8]
        self.key = f"{self.encoder.key}-v{views}-s{self.view_seed}-{aug}" if views else f"{self.encoder.key}-plain"
        """Store identity: trunk label, hash of its weights, image size, views, view seed, augmentation."""
        self.folder = cache_dir() / "views" / self.key
        self.dim = self.encoder.dim
        self.per_image = max(1, views)
        """Features kept per image: the views, or the plain view."""
        self._chunks: list[np.ndarray] = []
        self._where: dict[bytes, tuple[int, int]] = {}
        self._pending: list[tuple[bytes, np.ndarray]] = []
        self.computed = 0
        """Images whose views this process computed (the rest came from the cache)."""
        self._load()

    def _load(self) -> None:
        paths = sorted(self.folder.glob("part-*.npz")) if self.folder.is_dir() else []
        read = []
        for path in paths:
            try:
                with np.load(path, allow_pickle=False) as part:
                    keys, feats = part["keys"], part["feats"]
            except (OSError, ValueError, KeyError):  # damaged, or merged away by another process: computed again
                continue
            if feats.ndim != 3 or feats.shape[1:] != (self.per_image, self.dim) or len(keys) != len(feats):
                continue
            self._add(keys.tolist(), feats)
            read.append(path)
        if len(read) > MERGE_PARTS and distributed.is_main():  # many small parts: one file, read faster next time
            self._pending = [(k, self._chunks[c][row]) for k, (c, row) in self._where.items()]
            self.flush()
            for path in read:
                path.unlink(missing_ok=True)

    def _add(self, keys: list[bytes], feats: np.ndarray) -> None:
        c = len(self._chunks)
        self._chunks.append(feats)
        for row, k in enumerate(keys):
            self._where.setdefault(k, (c, row))

    def __len__(self) -> int:
        return len(self._where)

    def _prepare(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
        return resize_uint8(images, self.image_size)

    def features(self, images: np.ndarray, keys: list[bytes] | None = None) -> np.ndarray:
        """float16 ``(N, max(1, views), D)`` trunk features of uint8 ``(N, H, W, 3)`` images' views (or plain
        view); computed for the images the store has not seen. ``keys``: the images' :func:`digests` at the store's
        size, when the caller has them."""
        images = self._prepare(images)
        keys = digests(images) if keys is None else keys
        missing, seen = [], set()
        for i, k in enumerate(keys):
            if k not in self._where and k not in seen:
                missing.append(i)
                seen.add(k)
        if missing:
            self._compute(images[missing], [keys[i] for i in missing])
        out = np.empty((len(keys), self.per_image, self.dim), np.float16)
        for i, k in enumerate(keys):
            c, row = self._where[k]
            out[i] = self._chunks[c][row]
        return out

    @torch.inference_mode()
    def _compute(self, images: np.ndarray, keys: list[bytes]) -> None:
        n, per, v = len(images), self.per_image, self.views
        feats = np.empty((n, per, self.dim), np.float16)
        step = max(1, self.batch_size // per)
        bar = tqdm(total=n, desc=f"trunk views ({self.key[:40]})", unit="img", leave=False,
                   disable=not self.progress or n <= step)
        for s in range(0, n, step):
            x = to_float_nchw(images[s:s + step]).contiguous()
            m = len(x)
            if v:  # each image's views in a row, their parameters from the image's own generator
                h, w = x.shape[-2:]
                drawn = [self.augment.draw(v, h, w, self._generator(k)) for k in keys[s:s + step]]
                params = {name: torch.cat([d[name] for d in drawn]) for name in drawn[0]}
                x = self.augment.apply(x.repeat_interleave(v, dim=0).contiguous(), params)
            with self.encoder.autocast():
                y = self.model.encode(x.to(self.device).contiguous(memory_format=torch.channels_last))
            feats[s:s + m] = y.float().cpu().numpy().reshape(m, per, self.dim)
            bar.update(m)
        bar.close()
        self._add(keys, feats)
        self._pending.extend(zip(keys, feats))
        self.computed += n

    def _generator(self, key: bytes) -> torch.Generator:
        """The augmentation generator of the image with digest ``key``."""
        return torch.Generator().manual_seed(int.from_bytes(key[:8], "little") ^ self.view_seed)

    def flush(self) -> None:
        """Write the views computed since the last flush as one part file (rank 0 only; atomic)."""
        if not self._pending or not distributed.is_main():
            self._pending = []
            return
        keys = np.asarray([k for k, _ in self._pending], dtype="S20")
        feats = np.stack([f for _, f in self._pending])
        buf = io.BytesIO()
        np.savez(buf, keys=keys, feats=feats)
        atomic_write_bytes(self.folder / f"part-{os.getpid()}-{uuid.uuid4().hex[:12]}.npz", buf.getvalue())
        self._pending = []


_STORES: dict[tuple, ViewStore] = {}


def get_store(trunk: str, image_size: int, views: int, view_seed: int = 0, augment: AugmentConfig | None = None,
              device: str = "cpu") -> ViewStore:
    """A shared :class:`ViewStore` per (trunk, size, views, seed, augmentation, device) within a process."""
    key = (trunk, image_size, views, view_seed, repr(augment or AugmentConfig()), device)
    if key not in _STORES:
        _STORES[key] = ViewStore(trunk, image_size, views, view_seed, augment, device)
    return _STORES[key]


def build_world_views(world, trunk: str = "efficientnet_lite0", image_size: int = 64, views: int = 4,
                      chunk: int = 2048) -> dict:
    """Compute (or find cached) the augmented and plain views of every image of ``world`` for the ``head``
    learner's stores, a chunk at a time (each chunk written to disk as it is done, so an interrupted build
    resumes where it stopped). Returns how many images were computed and the seconds it took."""
    start = time.perf_counter()
    stores = [get_store(trunk, image_size, views), get_store(trunk, image_size, 0)]
    n = len(world.sha256)
    computed = [s.computed for s in stores]
    with tqdm(total=n, desc=f"views of {world.name} ({trunk}, {image_size} px, {views} + plain)", unit="img") as bar:
        for s in range(0, n, chunk):
            images = world.load_images(range(s, min(n, s + chunk)), image_size)
            keys = digests(images)
            for store in stores:
                quiet, store.progress = store.progress, False
                store.features(images, keys)
                store.progress = quiet
                store.flush()
            bar.update(len(images))
    return {"images": n, "computed": stores[0].computed - computed[0],
            "seconds": round(time.perf_counter() - start, 1)}
