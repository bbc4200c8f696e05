"""Exporting a snapshot's images as a training dataset, in img2dataset's layouts.

    export_snapshot("runs/openverse-cifar10", ExportConfig(format="webdataset", out="exports/openverse"))

One sample per distinct stored image: a world's catalogue images, or the images a recorded run downloaded
(``downloads`` rows with status ``ok``; a ``duplicate`` URL repeats an image already exported and failures have no
image: both are counted in ``skipped``). Sample keys are 9-digit sequence numbers (``000000012``), as in
img2dataset; the snapshot's own key stays in the metadata.

- ``webdataset``: ``OUT/00000.tar``, ``OUT/00001.tar``, ... holding ``KEY.jpg`` (the stored bytes; ``.png``,
  ``.gif`` or ``.webp`` for those formats), ``KEY.json`` (``key``, ``url``, ``caption``, ``license``, ``source``,
  ``status``, ``sha256``, ``width``, ``height``, ``snapshot_key``) and ``KEY.txt`` (the caption). Readable with
  ``webdataset.WebDataset("OUT/{00000..00001}.tar")``.
- ``parquet``: ``OUT/00000.parquet``, ... with the same fields as columns plus ``image`` (the bytes); readable with
  ``pyarrow.parquet.read_table("OUT")``.

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

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r}: choose webdataset or parquet")
        if not self.out:
            raise ValueError("no output folder: give out (--out DIR)")
        if self.shard_size < 1:
            raise ValueError(f"shard_size={self.shard_size} must be a positive integer")


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
    out.mkdir(parents=True, exist_ok=True)
    suffix = ".tar" if cfg.format == "webdataset" else ".parquet"
    if any(out.glob(f"*{suffix}")):
        raise ValueError(f"{out} already holds {suffix} shards: export into an empty folder")
    write = _tar_writer() if cfg.format == "webdataset" else _parquet_writer()
    skipped: Counter = Counter()
    shards, samples, size = [], 0, 0
    for i, batch in enumerate(_shards(_samples(snap, skipped), cfg.shard_size)):
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
