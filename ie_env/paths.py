"""Where the project reads data from and caches what it derives.

Both locations can be moved with environment variables, so CI, tests and users never need to edit code:

- ``IE_DATA_DIR``: the real-photo shards (``tiny-imagenet-200-*.tar.gz``, ``cifar10-*.tar.gz``,
  ``SHA256SUMS``). Default: the first of ``./shared/data``, ``../shared/data`` and ``<repo>/../shared/data``
  that exists, else ``<cache>/data`` once ``ie-explore fetch-data`` has put shards there.
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
    fetched = cache_root() / "data"
    candidates = [Path(env)] if env else [Path("shared/data"), Path("../shared/data"),
                                          REPO_ROOT.parent / "shared" / "data", fetched]
    for c in candidates:
        if c.is_dir() and (c != fetched or (c / "SHA256SUMS").exists()):
            return c.resolve()
    if required:
        raise DataMissingError(
            f"real-photo data not found (looked in {', '.join(str(c) for c in candidates)}): run "
            "`ie-explore fetch-data` to download Tiny ImageNet and CIFAR-10 (~400 MB) into shards in "
            f"{env or fetched}, or put the shards of ../shared/data beside the project or set IE_DATA_DIR to their "
            "folder"
        )
    return candidates[0]


def cache_root() -> Path:
    """The cache folder (``IE_CACHE_DIR``, ``<repo>/.cache`` or ``~/.cache/internet-explorer``), not created."""
    env = os.environ.get("IE_CACHE_DIR")
    if env:
        return Path(env)
    if (REPO_ROOT / "pyproject.toml").exists():
        return REPO_ROOT / ".cache"
    return Path.home() / ".cache" / "internet-explorer"


def cache_dir() -> Path:
    path = cache_root()
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
