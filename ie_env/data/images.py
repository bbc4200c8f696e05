"""Decoding image bytes into the uint8 arrays the learner eats, and telling image formats apart."""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image


def image_format(data: bytes) -> str:
    """``png``, ``gif``, ``webp`` or ``jpeg`` (anything else) from the leading bytes of an image file."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"GIF8":
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "jpeg"


def decode(data: bytes, size: int) -> np.ndarray:
    """One image as a ``(size, size, 3)`` uint8 RGB array (resized when needed). Raises on undecodable bytes."""
    with Image.open(io.BytesIO(data)) as img:
        img = img.convert("RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.BICUBIC, reducing_gap=2.0)
        return np.asarray(img, dtype=np.uint8)


def decode_many(blobs: list[bytes], size: int, threads: int = 2) -> np.ndarray:
    """Decode a list of image bytes into an ``(N, size, size, 3)`` array (Pillow releases the GIL)."""
    out = np.empty((len(blobs), size, size, 3), np.uint8)

    def work(i: int) -> None:
        out[i] = decode(blobs[i], size)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(len(blobs)), chunksize=256))
    return out
