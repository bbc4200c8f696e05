"""The search-engine protocol: text query in, ranked :class:`~ie_env.types.SearchResult` list out.

Every back-end (offline worlds, snapshot replay, live HTTP services) lives in its own module of this package
and is chosen by name through :func:`ie_env.web.search.make_engine`. Engines are plain objects with a
``search_batch`` over many queries, so a distributor can fan batches out to workers.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from ie_env.types import SearchResult


class SearchError(RuntimeError):
    """A search could not be answered (bad response, service down, unknown engine...)."""


@runtime_checkable
class SearchEngine(Protocol):
    name: str
    """Engine name as recorded in snapshots (``tinyweb``, ``openverse``, ...)."""

    def search(self, query: str, n: int | None = None) -> list[SearchResult]:
        """The top ``n`` results (engine default when ``None``), rank 0 first."""
        ...

    def search_batch(self, queries: list[str], n: int | None = None) -> list[list[SearchResult]]:
        """``search`` over a batch of queries (engines may embed or request them together)."""
        ...
