"""Search engines, one module per back-end, chosen by name with :func:`make_engine`."""
from __future__ import annotations

import importlib

from ie_env.web.search.base import SearchEngine, SearchError

ENGINES = {
    "tinyweb": "offline_cache.caption_engine:CaptionIndexEngine",
    "replay": "offline_cache.replay:ReplayEngine",
    "openverse": "ie_env.web.search.openverse:OpenverseEngine",
    "clip_retrieval": "ie_env.web.search.clip_retrieval:ClipRetrievalEngine",
    "flickr": "ie_env.web.search.flickr:FlickrEngine",
    "wikimedia": "ie_env.web.search.wikimedia:WikimediaEngine",
}
"""Engine name -> ``module:Class``; each class takes its options as keyword arguments."""


def make_engine(name: str, **options) -> SearchEngine:
    """Build the engine registered under ``name`` with its keyword ``options``."""
    if name not in ENGINES:
        raise SearchError(f"unknown search engine {name!r}: choose one of {', '.join(sorted(ENGINES))}")
    module, cls = ENGINES[name].split(":")
    return getattr(importlib.import_module(module), cls)(**options)


__all__ = ["ENGINES", "SearchEngine", "SearchError", "make_engine"]
