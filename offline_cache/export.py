"""Exporting a snapshot's images as a training dataset, in img2dataset's layouts.

    export_snapshot("runs/openverse-cifar10", ExportConfig(format="webdataset", out="exports/openverse"))

One sample per distinct stored image: a world's catalogue images, or the images a recorded run downloaded
(``downloads`` rows with status ``ok``; a ``duplicate`` URL repeats an image already exported and failures have no
image: both are counted in ``skipped``). Sample keys are 9-digit sequence numbers (``000000012``), as in
img2dataset; the snapshot's own key stays in the metadata.

- ``webdataset``: ``OUT/00000.tar``, ``OUT/00001.tar``, ... holding ``KEY.jpg`` (the stored bytes; ``.png``,
  ``.gif`` or ``.webp`` for those formats), ``KEY.json`` (``key``, ``url``, ``caption``, ``license``, ``source``,
  ``status``, ``sha256``, ``width``, ``height``, ``snapshot_key``, ``reward``, ``query``, ``relevant``) and
  ``KEY.txt`` (the caption). Readable with ``webdataset.WebDataset("OUT/{00000..00001}.tar")``.
- ``parquet``: ``OUT/00000.parquet``, ... with the same fields as columns plus ``image`` (the bytes); readable with
  ``pyarrow.parquet.read_table("OUT")``.

``reward`` and ``query`` are what the run that recorded the snapshot gave the image and the query that brought it
(kept in the snapshot's ``rewards`` table by a recording live run; ``null`` where none was kept), ``relevant`` its
ground truth where there is one. The filters a dataset builder needs select by them: ``min_reward``, ``top`` (the
``N`` highest rewards) and ``relevant_only``; with any of them the samples come in descending reward order, and a
snapshot that kept no rewards (or no ground truth, for ``relevant_only``) is an error.

Every shard is written to a temporary name and renamed when complete.
"""
from __future__ import annotations

import io
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterator

from PIL import Image

from ie_env.data.images import image_format
from offline_cache.replay import open_snapshot
from offline_cache.snapshot import Snapshot

FORMATS = ("webdataset", "parquet")
EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp"}
"""Image format -> file extension inside a webdataset shard."""


@dataclass
class ExportConfig:
    """Where and how a snapshot is exported."""

    format: str = "webdataset"
    """``webdataset`` (tar shards) or ``parquet``."""
    out: str = ""
    """Output folder (created; must hold no shards yet)."""
    shard_size: int = 10_000
    """Samples per shard."""
    top: int = 0
    """Keep only the images with the ``top`` highest rewards the recording run gave them (0 = no limit)."""
    min_reward: float | None = None
    """Keep only the images whose reward is at least this."""
    relevant_only: bool = False
    """Keep only the images the ground truth calls relevant (snapshots recorded with ground truth)."""

    @property
    def filtered(self) -> bool:
        """Whether the export selects by reward or relevance."""
        return bool(self.top) or self.min_reward is not None or self.relevant_only

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r}: choose webdataset or parquet")
        if not self.out:
            raise ValueError("no output folder: give out (--out DIR)")
        if self.shard_size < 1:
            raise ValueError(f"shard_size={self.shard_size} must be a positive integer")
        if self.top < 0:
            raise ValueError(f"top={self.top}: give a positive number of images (0 = no limit)")


@dataclass
class Sample:
    """One exported image's metadata (the ``KEY.json`` of a webdataset shard, a parquet row)."""

    key: str
    """The sample key: a 9-digit sequence number."""
    url: str
    caption: str
    license: str
    source: str
    status: str
    """``ok``: the image was stored (exported samples always have an image)."""
    sha256: str
    """Hash of the image bytes."""
    width: int
    """Width of the stored image."""
    height: int
    snapshot_key: str
    """The image's key in the snapshot (a world's catalogue key, or the search result's key)."""
    reward: float | None = None
    """The reward the recording run gave the image (``None``: it kept none)."""
    query: str | None = None
    """The query that brought the image in that run."""
    relevant: bool | None = None
    """Ground truth, where the run had one."""


def _candidates(snap: Snapshot) -> Iterator[tuple[str, str, dict]]:
    """``(status, sha256, fields)`` for every catalogue image, then every recorded download."""
    for r in snap.images():
        yield "ok", r.sha256, dict(url=r.url, caption=r.caption, license=r.license, source=r.source,
                                   snapshot_key=r.key)
    downloads = snap.downloads()
    if not downloads:
        return
    first: dict = {}
    for engine, query in snap.recorded_queries():
        for r in snap.get_results(engine, query) or []:
            first.setdefault(r.url, r)
    for url, status, sha, _ in downloads:
        r = first.get(url)
        yield status, sha, dict(url=url, caption=r.caption if r else "", license=r.license if r else "",
                                source=r.source if r else "", snapshot_key=r.key if r else "")


def _samples(snap: Snapshot, skipped: Counter) -> Iterator[tuple[Sample, str]]:
    """Each distinct stored image once, as ``(sample, sha256)``; what is left out is counted in ``skipped``."""
    seen: set[str] = set()
    n = 0
    for status, sha, fields in _candidates(snap):
        if status not in ("ok", "duplicate") or not sha:
            skipped[status] += 1
        elif sha in seen or status == "duplicate":
            skipped["duplicate"] += 1
        else:
            seen.add(sha)
            yield Sample(key=f"{n:09d}", status="ok", sha256=sha, width=0, height=0, **fields), sha
            n += 1


def _selected(snap: Snapshot, samples: Iterator[tuple[Sample, str]], cfg: ExportConfig,
              skipped: Counter) -> Iterator[tuple[Sample, str]]:
    """The samples with the recording run's reward, query and relevance; when ``cfg`` asks, only those it selects
    (the others counted in ``skipped["filtered"]``), renumbered in descending reward order."""
    rewards = snap.rewards()
    if cfg.filtered and not rewards:
        raise ValueError(f"{snap.path} holds no rewards, so --top, --min-reward and --relevant-only have nothing to "
                         "select by: rewards are kept by a run recorded into the snapshot (ie-explore live --record)")
    if cfg.relevant_only and all(rel is None for _, _, rel in rewards.values()):
        raise ValueError(f"{snap.path} has no ground truth (a live run's images): --relevant-only cannot select")
    scored = ((replace(s, **dict(zip(("reward", "query", "relevant"), rewards[sha]))) if sha in rewards else s, sha)
              for s, sha in samples)
    if not cfg.filtered:
        return scored
    every = [s for s, _ in scored]
    kept = [s for s in every if s.reward is not None and (cfg.min_reward is None or s.reward >= cfg.min_reward)
            and (s.relevant or not cfg.relevant_only)]
    kept.sort(key=lambda s: -s.reward)  # stable: equal rewards keep the snapshot's order
    top = kept[:cfg.top or None]
    if len(every) > len(top):
        skipped["filtered"] += len(every) - len(top)
    return ((replace(s, key=f"{n:09d}"), s.sha256) for n, s in enumerate(top))


def _shards(samples: Iterator[tuple[Sample, str]], size: int) -> Iterator[list[tuple[Sample, str]]]:
    batch: list = []
    for item in samples:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _tar_writer():
    try:
        import webdataset as wds  # optional: the export extra
    except ImportError:
        raise ValueError("the webdataset format needs the webdataset package: pip install webdataset") from None

    def write(path: Path, rows: list[tuple[Sample, bytes]]) -> None:
        with wds.TarWriter(str(path), encoder=False, mtime=0) as sink:
            for s, data in rows:
                sink.write({"__key__": s.key, EXTENSIONS[image_format(data)]: data,
                            "json": json.dumps(asdict(s)).encode(), "txt": s.caption.encode()})

    return write


def _parquet_writer():
    try:
        import pyarrow as pa  # optional: the export extra
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError("the parquet format needs the pyarrow package: pip install pyarrow") from None

    def write(path: Path, rows: list[tuple[Sample, bytes]]) -> None:
        columns = {name: [getattr(s, name) for s, _ in rows] for name in Sample.__dataclass_fields__}
        pq.write_table(pa.table({**columns, "image": pa.array([data for _, data in rows], pa.binary())}), str(path))

    return write


def _sized(sample: Sample, data: bytes) -> Sample:
    """The sample with the stored image's own width and height."""
    with Image.open(io.BytesIO(data)) as img:
        return replace(sample, width=img.width, height=img.height)


def export_snapshot(snapshot: Snapshot | str | Path, cfg: ExportConfig) -> dict:
    """Write the snapshot's distinct images as shards (see the module docstring); returns what was written."""
    snap = open_snapshot(snapshot)
    out = Path(cfg.out)
    suffix = ".tar" if cfg.format == "webdataset" else ".parquet"
    if any(out.glob(f"*{suffix}")):
        raise ValueError(f"{out} already holds {suffix} shards: export into an empty folder")
    write = _tar_writer() if cfg.format == "webdataset" else _parquet_writer()
    skipped: Counter = Counter()
    selected = _selected(snap, _samples(snap, skipped), cfg, skipped)
    out.mkdir(parents=True, exist_ok=True)
    shards, samples, size = [], 0, 0
    for i, batch in enumerate(_shards(selected, cfg.shard_size)):
        blobs = snap.get_blobs(sorted({sha for _, sha in batch}))
        missing = [sha for _, sha in batch if sha not in blobs]
        if missing:
            raise ValueError(f"{snap.path}: image {missing[0]} is referenced but not stored (run ie-explore verify)")
        path = out / f"{i:05d}{suffix}"
        tmp = path.with_name(f".{path.name}.tmp")
        write(tmp, [(_sized(s, blobs[sha]), blobs[sha]) for s, sha in batch])
        os.replace(tmp, path)
        shards.append(path.name)
        samples += len(batch)
        size += path.stat().st_size
    return {"format": cfg.format, "out": str(out), "shards": shards, "samples": samples, "bytes": size,
            "skipped": dict(skipped)}
