"""Where the project reads data from and caches what it derives.

Both locations can be moved with environment variables, so CI, tests and users never need to edit code:

- ``IE_DATA_DIR``: the real-photo shards (``tiny-imagenet-200-*.tar.gz``, ``cifar10-*.tar.gz``,
  ``SHA256SUMS``). Default: the first of ``./shared/data``, ``../shared/data`` and ``<repo>/../shared/data``
  that exists.
- ``IE_CACHE_DIR``: parsed vocabulary, text embeddings, decoded targets and built worlds.
  Default: ``<repo>/.cache`` for a source checkout, else ``~/.cache/internet-explorer``.
- ``IE_WORDNET_DIR``: WordNet 3.0 data files (Debian ``wordnet-base``). Default ``/usr/share/wordnet``.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class DataMissingError(RuntimeError):
    """A file the project reads in place is missing; the message says how to get it."""


def data_dir(required: bool = True) -> Path:
    env = os.environ.get("IE_DATA_DIR")
    candidates = [Path(env)] if env else [Path("shared/data"), Path("../shared/data"), REPO_ROOT.parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    if required:
        raise DataMissingError(
            f"real-photo data not found (looked in {', '.join(str(c) for c in candidates)}): "
            "put the shards of ../shared/data beside the project or set IE_DATA_DIR to their folder"
        )
    return candidates[0]


def cache_dir() -> Path:
    env = os.environ.get("IE_CACHE_DIR")
    if env:
        path = Path(env)
    elif (REPO_ROOT / "pyproject.toml").exists():
        path = REPO_ROOT / ".cache"
    else:
        path = Path.home() / ".cache" / "internet-explorer"
    path.mkdir(parents=True, exist_ok=True)
    return path


def wordnet_dir() -> Path:
    path = Path(os.environ.get("IE_WORDNET_DIR", "/usr/share/wordnet"))
    if not (path / "data.noun").exists():
        raise DataMissingError(
            f"WordNet 3.0 not found at {path}/data.noun: install Debian's wordnet-base "
            "(apt-get install wordnet-base) or set IE_WORDNET_DIR"
        )
    return path
