"""Recording a live run into a snapshot, so it can be replayed offline (:mod:`offline_cache.replay`).

Wrap the live engine in :class:`RecordingEngine` and download through the :class:`~ie_env.web.download.Downloader`
it hands out (:meth:`RecordingEngine.downloader`): every answer goes into the snapshot's ``queries``/``results``
tables, every downloaded image into ``blobs`` and every fetch outcome into ``downloads``; the downloader's
status histogram is kept in the snapshot's ``download_status`` meta key (added to what earlier runs left).
Writes go through the snapshot writer, so several recording processes may share one snapshot.

    snap = Snapshot("runs/openverse-1", create=True)
    engine = RecordingEngine(make_engine("openverse"), snap)
    downloader = engine.downloader(image_size=64)
    results = engine.search("tabby cat")
    images = downloader.fetch(results)
"""
from __future__ import annotations

from pathlib import Path

from ie_env.types import SearchResult
from ie_env.web.download import Downloader, DownloaderConfig
from offline_cache.snapshot import Snapshot


class RecordingEngine:
    """A search engine that answers like ``engine`` and records every answer into ``snapshot``.

    Args:
        engine: any live engine (``search`` / ``search_batch`` / ``name``).
        snapshot: an open writable :class:`Snapshot`, or a folder (created when missing).
        name: the engine name to record answers under (default ``engine.name``; replay asks for it).
    """

    def __init__(self, engine, snapshot: Snapshot | str | Path, name: str | None = None):
        self.engine = engine
        self.snapshot = snapshot if isinstance(snapshot, Snapshot) else Snapshot(snapshot, create=True)
        self.name = name or engine.name
        engines = self.snapshot.get_meta("recorded_engines", [])
        if self.name not in engines:
            self.snapshot.set_meta("recorded_engines", sorted([*engines, self.name]))

    def search(self, query: str, n: int | None = None) -> list[SearchResult]:
        return self.search_batch([query], n)[0]

    def search_batch(self, queries: list[str], n: int | None = None) -> list[list[SearchResult]]:
        answers = self.engine.search_batch(queries, n)
        with self.snapshot.transaction():
            for query, results in zip(queries, answers):
                self.snapshot.put_results(self.name, query, results)
        return answers

    def downloader(self, config: DownloaderConfig | None = None, progress: bool = False, **options) -> Downloader:
        """A downloader that records every image and outcome into this engine's snapshot."""
        return Downloader(config, snapshot=self.snapshot, progress=progress, **options)


__all__ = ["RecordingEngine"]
