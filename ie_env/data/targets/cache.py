"""Decoded target arrays cached on disk (``.npz`` without pickles), so targets load in a second."""
from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from ie_env.paths import cache_dir


def cached_arrays(name: str, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    path = cache_dir() / "targets" / f"{name}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    arrays = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays
