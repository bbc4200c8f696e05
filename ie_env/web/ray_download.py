"""The download stage fanned out to Ray workers, as img2dataset's distributors do: :class:`RayDownloader`.

It has the :class:`~ie_env.web.download.Downloader`'s interface (``fetch(results) -> list[Fetched]``, a
``status`` Counter, ``state_dict`` / ``load_state_dict``, ``close``). Each batch's new URLs are dealt round-robin
into ``workers`` shards, and each shard is fetched by a Ray task running a plain ``Downloader`` (its thread pool,
timeouts, address checks and image checks; no snapshot, no memory between tasks). The images come back to this
process, which alone decides what is a duplicate (in input order, as one Downloader does: a URL seen before, or
an image already met under another URL), counts every result exactly once in ``status`` and writes the snapshot
(blobs, downloads and the ``download_status`` histogram in one transaction). So a batch ends with the same
outcomes, histogram and snapshot rows as with one Downloader, whatever the number of workers or the order in
which their shards finish. A task whose worker dies is retried once; if it fails again its URLs count as
``connection_error`` (the detail names the Ray failure) and the rest of the batch is kept.

``per_host`` holds per worker: with W workers a host may see up to W x ``per_host`` connections at once.

    fetcher = make_downloader(ray="local", workers=4, image_size=64)    # a Downloader when ray is empty
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict

from ie_env.ray_cluster import connect, import_ray, one_line
from ie_env.types import SearchResult
from ie_env.web.download import Downloader, DownloaderConfig, Fetched, FetcherState

RETRIES = 1
"""Extra attempts of a shard whose worker died or raised."""


def fetch_shard(config: dict, results: list[SearchResult]) -> list[Fetched]:
    """One shard of a batch, fetched by a fresh Downloader (what a Ray task runs)."""
    with Downloader(DownloaderConfig(**config)) as d:
        return d.fetch(results)


class RayDownloader(FetcherState):
    """Fetches the images of search results on Ray workers; the decisions and the snapshot stay here.

    Args:
        config: a :class:`DownloaderConfig` for the workers' downloaders (defaults when ``None``).
        snapshot: an open, writable snapshot to record every image and outcome into (``None``: record nothing).
        ray: ``local`` (a Ray instance started here, stopped by :meth:`close`) or a cluster address.
        workers: shards each batch is cut into (Ray tasks running at once, at most).
        **options: :class:`DownloaderConfig` fields, overriding ``config``.
    """

    def __init__(self, config: DownloaderConfig | None = None, snapshot=None, ray: str = "local", workers: int = 2,
                 **options):
        if workers < 1:
            raise ValueError(f"workers={workers}: give at least 1 Ray worker")
        self.config = DownloaderConfig(**{**asdict(config or DownloaderConfig()), **options}).validate()
        self.snapshot = snapshot
        self.workers = workers
        self.status: Counter = Counter()
        """Every outcome counted so far (one per result handed to :meth:`fetch`)."""
        self._done: dict[str, tuple[str, str, int, int]] = {}  # url -> (status, sha256, width, height)
        self._seen: set[str] = set()  # sha256 of the images handed on
        self._base_status = Counter(snapshot.get_meta("download_status", {}) if snapshot is not None else {})
        self._ray = import_ray()
        self._started = connect(ray)
        self._task = self._ray.remote(max_retries=RETRIES, retry_exceptions=True)(fetch_shard)

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
        self._started = False

    def __enter__(self) -> "RayDownloader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fetch_new(self, results: list[SearchResult]) -> dict[str, Fetched]:
        """The workers' outcome for every URL of ``results`` (each URL once), by URL."""
        config = asdict(self.config)
        shards = [results[i::self.workers] for i in range(self.workers)]
        pending = {self._task.remote(config, shard): shard for shard in shards if shard}
        out: dict[str, Fetched] = {}
        for ref, shard in pending.items():
            try:
                out.update((f.url, f) for f in self._ray.get(ref))
            except self._ray.exceptions.RayError as e:
                detail = f"Ray worker failed twice: {one_line(e)}"
                out.update((r.url, Fetched(r.url, r.key, "connection_error", detail=detail)) for r in shard)
        return out

    def fetch(self, results: list[SearchResult]) -> list[Fetched]:
        """Fetch the images of ``results``; one :class:`Fetched` per result, in the same order."""
        new: dict[str, SearchResult] = {}  # the first result of each URL not fetched before
        for r in results:
            if r.url not in self._done:
                new.setdefault(r.url, r)
        return self._collect(results, self._fetch_new(list(new.values())), self._judge)

    def _judge(self, r: SearchResult, o: Fetched) -> Fetched:
        """A new URL's result from its worker's answer: a duplicate when another shard handed the image on."""
        if o.status in ("ok", "duplicate") and (o.sha256 in self._seen or o.image is None):
            return Fetched(r.url, r.key, "duplicate", o.sha256, None, o.width, o.height, "same image as another URL")
        if o.status == "ok":
            self._seen.add(o.sha256)
        return Fetched(r.url, r.key, o.status, o.sha256, o.image, o.width, o.height, o.detail)


def make_downloader(snapshot=None, ray: str = "", workers: int = 2, **options):
    """The fetcher a live run uses: a :class:`RayDownloader` when ``ray`` is set (``local`` or an address), else a
    :class:`~ie_env.web.download.Downloader`; ``options`` are :class:`DownloaderConfig` fields."""
    if ray:
        return RayDownloader(snapshot=snapshot, ray=ray, workers=workers, **options)
    return Downloader(snapshot=snapshot, **options)
