"""A world's images searched by image embedding: query by image (or by an embedding of the same encoder).

Uses a frozen encoder's embeddings of every world image (:mod:`ie_env.learning.frozen`, computed once and cached
on disk, the same ones frozen mode uses): a query image is embedded with the same encoder and the world images
are ranked by cosine similarity (ties by catalogue position), as clip-retrieval answers an image query.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ie_env.data.images import decode
from ie_env.learning.frozen import get_encoder
from offline_cache.world import World

MAX_PIXELS = 40_000_000
"""Largest query image (width x height) decoded: a small file may declare a huge picture."""


class ImageEmbeddingIndex:
    """Nearest world images to a query image or image embedding.

    Args:
        world: an opened :class:`~offline_cache.world.World`.
        encoder: a frozen encoder name (``resnet18``, ``efficientnet_lite0``, ...; see :mod:`ie_env.learning.frozen`).
        image_size: the side images are brought to before embedding.
    """

    def __init__(self, world: World, encoder: str, image_size: int = 64):
        self.world = world
        self.encoder = get_encoder(encoder, image_size)
        self.embeddings = np.ascontiguousarray(self.encoder.world_embeddings(world), np.float32)
        self.name = encoder

    @property
    def dim(self) -> int:
        return self.embeddings.shape[1]

    def embed_image(self, data: bytes) -> np.ndarray:
        """The encoder's ``(dim,)`` embedding of one image file; ``ValueError`` for bytes that are not a usable
        image."""
        try:
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
        except Exception as e:  # noqa: BLE001 - Pillow raises many kinds for bad files
            raise ValueError(f"the image could not be read ({type(e).__name__})") from None
        if w * h > MAX_PIXELS:
            raise ValueError(f"the image is {w}x{h} pixels, over {MAX_PIXELS}")
        try:
            pixels = decode(data, self.encoder.image_size)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"the image could not be decoded ({type(e).__name__})") from None
        return self.encoder.embed(pixels[None].copy())[0]  # a writable array for torch

    def search(self, embedding, n: int) -> list[tuple[int, float]]:
        """``(catalogue position, cosine similarity)`` of the ``n`` world images nearest ``embedding``."""
        q = np.asarray(embedding, np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"embedding of dimension {q.shape[0]}: the image index has dimension {self.dim}")
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        sims = self.embeddings @ q
        n = min(n, len(sims))
        top = np.argpartition(-sims, n - 1)[:n]
        order = top[np.lexsort((top, -np.round(sims[top], 6)))]
        return [(int(i), float(sims[i])) for i in order]
