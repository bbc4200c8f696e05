"""Replaying a recorded run offline: the same answers and the same image bytes, with no network.

:class:`ReplayEngine` answers exactly what :class:`~offline_cache.recorder.RecordingEngine` recorded (and
refuses, naming it, a query that was never recorded); :class:`SnapshotFetcher` stands in for the
:class:`~ie_env.web.download.Downloader` and hands back the recorded outcome and bytes of every URL, with the same
de-duplication rule, so an episode replayed in the same order sees identical :class:`~ie_env.web.download.Fetched`
values, hence identical rewards. ``SnapshotFetcher`` also serves ``snapshot://<sha256>`` URLs (offline worlds).
"""
from __future__ import annotations

import io
import sqlite3
from collections import Counter
from pathlib import Path

from PIL import Image

from ie_env.types import SearchResult
from ie_env.web.download import Fetched, FetcherState, seen_before
from ie_env.web.search.base import SearchError
from offline_cache.snapshot import Snapshot

SNAPSHOT_SCHEME = "snapshot://"


def open_snapshot(snapshot: Snapshot | str | Path) -> Snapshot:
    """An open snapshot: the one given, or the folder opened read-only (read-write where SQLite needs it)."""
    if isinstance(snapshot, Snapshot):
        return snapshot
    try:
        return Snapshot(snapshot, readonly=True)
    except sqlite3.OperationalError:  # a WAL database left without its -shm file needs write access to open
        return Snapshot(snapshot)


class ReplayEngine:
    """Answers queries from a recorded snapshot.

    Args:
        snapshot: the snapshot folder (or an open :class:`Snapshot`).
        engine: the engine name the answers were recorded under (``openverse``...); may be left empty when the
            snapshot holds answers of one engine only.
    """

    def __init__(self, snapshot: Snapshot | str | Path, engine: str = ""):
        self.snapshot = open_snapshot(snapshot)
        engines = sorted({e for e, _ in self.snapshot.recorded_queries()})
        if not engine:
            if len(engines) != 1:
                raise SearchError(f"replay: {self.snapshot.path} holds answers of {len(engines)} engines "
                                  f"({', '.join(engines) or 'none'}): pass engine=<name>")
            engine = engines[0]
        elif engine not in engines:
            raise SearchError(f"replay: no answers of engine {engine!r} in {self.snapshot.path} (recorded: "
                              f"{', '.join(engines) or 'none'})")
        self.name = engine

    def search(self, query: str, n: int | None = None) -> list[SearchResult]:
        results = self.snapshot.get_results(self.name, query)
        if results is None:
            count = len(self.snapshot.recorded_queries(self.name))
            raise SearchError(f"replay: query {query!r} was not recorded for engine {self.name!r} in "
                              f"{self.snapshot.path} ({count} queries recorded): record it with a live run first")
        return results[:n] if n else results

    def search_batch(self, queries: list[str], n: int | None = None) -> list[list[SearchResult]]:
        return [self.search(q, n) for q in queries]


class SnapshotFetcher(FetcherState):
    """The downloader's stand-in for replay: ``fetch(results)`` reads recorded outcomes and bytes.

    A URL recorded ``ok`` or ``duplicate`` gives its image the first time its bytes are met in this fetcher's
    life and ``duplicate`` afterwards (the live downloader's rule); a URL met before in this fetcher gives
    ``duplicate`` (or its failure again); a recorded failure gives that failure; an unrecorded URL gives
    ``not_recorded``. :attr:`status` counts the outcomes like :attr:`Downloader.status`.
    """

    def __init__(self, snapshot: Snapshot | str | Path):
        self._owned = not isinstance(snapshot, Snapshot)
        self.snapshot = open_snapshot(snapshot)
        self.status: Counter = Counter()
        self._done: dict[str, tuple[str, str, int, int]] = {}
        self._seen: set[str] = set()

    def fetch(self, results: list[SearchResult]) -> list[Fetched]:
        recorded = {r.url: self._recorded(r.url) for r in results if r.url not in self._done}
        blobs = self.snapshot.get_blobs(sorted({sha for _, sha in recorded.values()} - {""}))
        out = []
        for r in results:
            if r.url in self._done:
                f = seen_before(r, self._done[r.url])
            else:
                status, sha = recorded[r.url]
                if status in ("ok", "duplicate") and sha in blobs:
                    with Image.open(io.BytesIO(blobs[sha])) as img:
                        w, h = img.size
                    if sha in self._seen:
                        f = Fetched(r.url, r.key, "duplicate", sha, None, w, h, "same image as another URL")
                    else:
                        f = Fetched(r.url, r.key, "ok", sha, blobs[sha], w, h)
                        self._seen.add(sha)
                elif status in ("ok", "duplicate"):
                    f = Fetched(r.url, r.key, "not_recorded", detail=f"blob {sha} missing from the snapshot")
                else:
                    f = Fetched(r.url, r.key, status, detail="recorded outcome")
                self._done[r.url] = (f.status, f.sha256, f.width, f.height)
            self.status[f.status] += 1
            out.append(f)
        return out

    def close(self) -> None:
        """Close the snapshot if this fetcher opened it (the :class:`Downloader` interface)."""
        if self._owned:
            self.snapshot.close()

    def __enter__(self) -> SnapshotFetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _recorded(self, url: str) -> tuple[str, str]:
        if url.startswith(SNAPSHOT_SCHEME):
            return "ok", url[len(SNAPSHOT_SCHEME):]
        return self.snapshot.get_download(url) or ("not_recorded", "")


__all__ = ["ReplayEngine", "SnapshotFetcher", "open_snapshot"]
