"""An offline world opened for reading: its catalogue as columns, image decoding, and opening by name.

A world is a snapshot (:mod:`offline_cache.snapshot`) whose ``images`` table is the catalogue, plus
``captions.json`` / ``captions.npy`` (the distinct captions and their MiniLM embeddings) that
:class:`offline_cache.caption_engine.CaptionIndexEngine` searches. Worlds are built by :mod:`offline_cache.tinyweb`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ie_env.data.images import decode_many
from ie_env.paths import cache_dir
from offline_cache.snapshot import Snapshot, SnapshotError


def world_dir(name: str = "tinyweb") -> Path:
    """The folder of a world given by name (under the cache) or as a path (anything with a ``/``)."""
    return Path(name) if "/" in name else cache_dir() / "worlds" / name


class World:
    """An offline world opened for reading: its catalogue as columns, and image decoding.

    Args:
        path: the world folder (a snapshot with ``captions.json`` / ``captions.npy``).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / "captions.npy").exists():
            raise SnapshotError(f"no world at {self.path}: build it with `ie-explore build-world tinyweb`")
        self.snapshot = Snapshot(self.path, readonly=True)
        self.name = self.snapshot.get_meta("world")
        self.rows = rows = self.snapshot.images()
        self.keys = [r.key for r in rows]
        self.sha256 = [r.sha256 for r in rows]
        self.captions = [r.caption for r in rows]
        self.wnids = np.asarray([r.meta.get("wnid", "") for r in rows])
        self.caption_texts: list[str] = json.loads((self.path / "captions.json").read_text())
        self.caption_embeddings = np.load(self.path / "captions.npy", allow_pickle=False)
        lookup = {c: i for i, c in enumerate(self.caption_texts)}
        self.caption_ids = np.asarray([lookup[c] for c in self.captions], np.int64)
        self.index_of = {k: i for i, k in enumerate(self.keys)}

    def __len__(self) -> int:
        return len(self.keys)

    def load_images(self, indices, size: int) -> np.ndarray:
        """Decode the images at ``indices`` (catalogue positions) into ``(N, size, size, 3)`` uint8."""
        hashes = [self.sha256[i] for i in indices]
        blobs = self.snapshot.get_blobs(sorted(set(hashes)))
        return decode_many([blobs[h] for h in hashes], size)
