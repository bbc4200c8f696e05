"""Retrying the downloads a snapshot recorded as failed (``ie-explore refetch SNAPSHOT --status timeout,...``).

Every ``downloads`` row whose status is one of ``statuses`` is fetched again by a
:class:`~ie_env.web.download.Downloader` (the same safety rules as the live run), batch by batch. Each batch is
recorded in one snapshot transaction: the new image bytes (content-addressed: an image the snapshot already
stores is never stored again, and its URL is recorded ``duplicate``), the URL's new outcome, and the status
histogram (``download_status`` meta), where each retried URL's count moves from its old status to its new one.
Replays of the snapshot then see the recovered images.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ie_env.types import SearchResult
from ie_env.web.download import Downloader, DownloaderConfig, Fetched
from offline_cache.snapshot import Snapshot

NOT_RETRIED = ("ok", "duplicate")
"""Statuses that gave an image: there is nothing to retry."""


@dataclass
class RefetchConfig:
    """Which recorded failures are retried, and how."""

    statuses: str = "timeout,http_5xx,connection_error"
    """Comma-separated recorded statuses to retry (any failure status: http_429, dns_error, not_recorded, ...)."""
    batch: int = 256
    """URLs fetched, then recorded in one transaction, at a time."""
    downloader: dict = field(default_factory=dict)
    """Options of :class:`~ie_env.web.download.DownloaderConfig` (threads, timeouts, ``allow_private``...);
    ``image_size`` defaults to the side of most images the snapshot stores."""

    def __post_init__(self) -> None:
        if not self.status_list:
            raise ValueError("no status to retry: give e.g. timeout,http_5xx,connection_error")
        kept = sorted(set(self.status_list) & set(NOT_RETRIED))
        if kept:
            raise ValueError(f"status {', '.join(kept)} gave an image already: retry failure statuses only "
                             "(timeout, http_5xx, connection_error, ...)")
        if self.batch < 1:
            raise ValueError(f"batch={self.batch} must be a positive integer")

    @property
    def status_list(self) -> list[str]:
        return [s.strip() for s in self.statuses.split(",") if s.strip()]


def _stored_side(snap: Snapshot) -> int:
    """The side of the snapshot's most common image size when it is square (what the recording resized to)."""
    sizes = snap.inspect()["image_sizes"]
    w, _, h = next(iter(sizes), "x").partition("x")
    return int(w) if w and w == h else DownloaderConfig.image_size


def _record(snap: Snapshot, old: dict[str, str], fetched: list[Fetched]) -> list[Fetched]:
    """Store one batch's outcomes and move the histogram's counts; returns the outcomes as recorded."""
    recorded = []
    with snap.transaction():
        for f in fetched:
            if f.status == "ok" and snap.has_blob(f.sha256):
                f = Fetched(f.url, f.key, "duplicate", f.sha256, None, f.width, f.height, "image stored already")
            elif f.status == "ok":
                snap.put_blob(f.image, "image/jpeg", f.width, f.height)
            snap.put_download(f.url, f.status, f.sha256, f.detail)
            recorded.append(f)
        histogram = Counter(snap.get_meta("download_status", {}))
        histogram.subtract(old[f.url] for f in recorded)
        histogram.update(f.status for f in recorded)
        snap.set_meta("download_status", {k: v for k, v in histogram.items() if v > 0})
    return recorded


def refetch(snapshot: str | Path, cfg: RefetchConfig, progress: bool = False) -> dict:
    """Retry the snapshot's recorded failures of ``cfg.statuses``; returns the old and new outcomes of the
    retried URLs and the snapshot's histogram after the retry."""
    with Snapshot(snapshot) as snap:
        wanted = set(cfg.status_list)
        old = {url: status for url, status, _, _ in snap.downloads() if status in wanted}
        keys: dict[str, str] = {}
        for engine, query in snap.recorded_queries():
            for r in snap.get_results(engine, query) or []:
                keys.setdefault(r.url, r.key)
        options = {"image_size": _stored_side(snap), **cfg.downloader}
        after: Counter = Counter()
        urls = list(old)
        with Downloader(progress=progress, **options) as downloader:
            for start in range(0, len(urls), cfg.batch):
                batch = [SearchResult(i, keys.get(u, u), u, "", "") for i, u in enumerate(urls[start:start + cfg.batch])]
                after.update(f.status for f in _record(snap, old, downloader.fetch(batch)))
        return {"snapshot": str(snap.path), "retried": len(urls), "before": dict(Counter(old.values())),
                "after": dict(after), "download_status": snap.get_meta("download_status", {})}
