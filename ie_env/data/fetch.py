"""The real photos from where they are published, as the project's shards (``ie-explore fetch-data``).

Without the shards of ../shared/data, the project downloads the two datasets from their canonical sources:
Tiny ImageNet 200's ``tiny-imagenet-200.zip`` from the CS231N course page and CIFAR-10's
``cifar-10-python.tar.gz`` from the University of Toronto (the archive torchvision downloads). A download goes
into ``<name>.part`` and resumes with an HTTP Range request after a dropped connection or a killed run; the
archive's published md5 is checked before anything is read from it. Each archive is then converted into the
shard format of :mod:`ie_env.data.shards` (``PREFIX-NNN.tar.gz``, each sample ``KEY.jpg`` + ``KEY.json``, listed
with their sha256 in ``SHA256SUMS``), by default under ``<cache>/data``, where :func:`ie_env.paths.data_dir`
finds them:

- Tiny ImageNet: ``train/<wnid>_<i>`` (the 100,000 train images) and ``val/val_<i>`` (the 10,000 labelled val
  images), the JPEG bytes exactly as the zip holds them; json ``{names, path, source, split, wnid}`` with the
  names of ``words.txt``; plus ``tiny-imagenet-200-classes.tsv`` (wnid, tab, names; sorted by wnid). The
  unlabelled test images are left out.
- CIFAR-10: ``train/<label>_<nnnn>`` and ``test/<label>_<nnnn>`` (numbered per class in the batches' order),
  each 32x32 array re-encoded as JPEG (Pillow's default quality 75); json ``{label, path, source, split}``.

Samples are written in key order, a new shard when one reaches ``shard_bytes`` of tar; the shards are
deterministic (gzip without timestamps). A dataset is published whole or not at all: its shards are written
into a temporary folder and moved in, then ``SHA256SUMS`` is rewritten atomically. Every failure (network,
checksum, a truncated or corrupt archive) is a one-line :class:`FetchError`.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import re
import shutil
import tarfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
from PIL import Image
from tqdm.auto import tqdm

from ie_env.atomic import atomic_write_bytes
from ie_env.data.shards import sha256
from ie_env.paths import DataMissingError, cache_root, data_dir

TINY_IMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
TINY_IMAGENET_MD5 = "90528d7ca1a48142e341f4ef8d21d0de"
"""The md5 of ``tiny-imagenet-200.zip`` (248,100,043 bytes) that the common loaders check (e.g. Avalanche's)."""
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
"""The md5 published on the CIFAR page and in torchvision for ``cifar-10-python.tar.gz`` (170,498,071 bytes)."""

USER_AGENT = "internet-explorer/0.1 (dataset download: ie-explore fetch-data)"


def one_line(text, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


DATASETS = {
    "tiny-imagenet": ("tiny-imagenet-200-train-", "tiny-imagenet-200-val-", "tiny-imagenet-200-classes.tsv"),
    "cifar10": ("cifar10-train-", "cifar10-test-"),
}
"""The datasets fetch-data knows, and the file-name prefixes of what each puts in the data folder."""


class FetchError(RuntimeError):
    """A download or conversion failed; the message is one line and says what to do."""


@dataclass
class FetchConfig:
    """What ``ie-explore fetch-data`` downloads, from where, and where it puts the shards."""

    dest: str = ""
    """Folder of the shards (default: $IE_DATA_DIR if set, else <cache>/data, which the project finds)."""
    datasets: str = "tiny-imagenet,cifar10"
    """Comma-separated datasets to fetch: tiny-imagenet, cifar10."""
    tiny_imagenet_url: str = TINY_IMAGENET_URL
    """Where tiny-imagenet-200.zip is downloaded from."""
    tiny_imagenet_md5: str = TINY_IMAGENET_MD5
    """md5 the zip must have ('' skips the check)."""
    cifar10_url: str = CIFAR10_URL
    """Where cifar-10-python.tar.gz is downloaded from."""
    cifar10_md5: str = CIFAR10_MD5
    """md5 the archive must have ('' skips the check)."""
    downloads: str = ""
    """Folder of the downloaded archives and their .part files (default: <cache>/downloads)."""
    keep_archives: bool = False
    """Keep the archives after converting them (else deleted once their shards are in place)."""
    force: bool = False
    """Fetch and convert again even when the data folder holds verified shards of the dataset."""
    shard_bytes: int = 60_000_000
    """Start a new shard when one holds this many bytes of tar (the shards of ../shared/data hold ~60 MB)."""
    retries: int = 5
    """Extra attempts, each resuming where the last stopped, after a dropped connection."""
    retry_wait: float = 2.0
    """Seconds before the first retry (doubling, at most 30)."""
    timeout: float = 60.0
    """Seconds to connect or to wait for the next bytes."""
    progress: bool = True
    """Show progress bars on stderr."""

    def __post_init__(self):
        unknown = [d for d in self.names if d not in DATASETS]
        if unknown or not self.names:
            raise ValueError(f"datasets={self.datasets!r}: fetch-data knows {', '.join(DATASETS)} (comma-separated)")
        if self.shard_bytes < 1:
            raise ValueError(f"shard_bytes={self.shard_bytes} must be positive")

    @property
    def names(self) -> list[str]:
        return [d.strip() for d in self.datasets.split(",") if d.strip()]


def default_dest() -> Path:
    """Where fetched shards go without ``--dest``: ``$IE_DATA_DIR`` if set, else ``<cache>/data``."""
    env = os.environ.get("IE_DATA_DIR")
    return Path(env) if env else cache_root() / "data"


# --- checking what is there ----------------------------------------------------------------------------------
def _sums(root: Path) -> dict[str, str]:
    path = root / "SHA256SUMS"
    if not path.exists():
        return {}
    return {name: digest for digest, name in (line.split(None, 1) for line in path.read_text().splitlines()
                                              if line.strip())}


def has_dataset(root: Path, dataset: str) -> bool:
    """Whether ``root`` holds the files of ``dataset``: every prefix listed in SHA256SUMS, each file matching."""
    sums = _sums(root)
    for prefix in DATASETS[dataset]:
        names = [n for n in sums if n.startswith(prefix)]
        if not names:
            return False
        for name in names:
            path = root / name
            if not path.is_file():
                return False
            if sha256(path) != sums[name]:
                return False
    return True


# --- download ------------------------------------------------------------------------------------------------
def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _get_once(url: str, part: Path, cfg: FetchConfig, session: requests.Session) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    with session.get(url, headers=headers, stream=True, timeout=cfg.timeout) as r:
        if have and r.status_code == 416:  # nothing left to send: the .part is the whole file (the md5 decides)
            return
        if r.status_code == 429 or r.status_code >= 500:  # the server's trouble: retried
            raise requests.HTTPError(f"HTTP {r.status_code} {r.reason}")
        if r.status_code not in (200, 206):
            raise FetchError(f"{url} answered HTTP {r.status_code} {r.reason}: check the URL (or --*-url)")
        start = 0
        if r.status_code == 206:
            m = re.match(r"bytes (\d+)-", r.headers.get("Content-Range", ""))
            start = int(m.group(1)) if m else -1
            if start != have:
                raise FetchError(f"{url} resumed at byte {start}, not {have}: delete {part} and run again")
        length = r.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        with open(part, "ab" if start else "wb") as f, \
                tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                     desc=part.name.removesuffix(".part"), disable=not cfg.progress) as bar:
            for chunk in r.iter_content(1 << 16):  # a dropped connection loses at most the chunk under way
                f.write(chunk)
                bar.update(len(chunk))


def download(url: str, path: Path, md5: str, cfg: FetchConfig) -> Path:
    """Download ``url`` to ``path`` through ``path.part`` (resumed with a Range request), and check its md5."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and (not md5 or _md5(path) == md5):
        return path
    path.unlink(missing_ok=True)
    part = path.with_name(path.name + ".part")
    with requests.Session() as session:
        for attempt in range(cfg.retries + 1):
            try:
                _get_once(url, part, cfg, session)
                break
            except requests.RequestException as exc:
                if attempt == cfg.retries or isinstance(exc, (requests.exceptions.InvalidURL,
                                                              requests.exceptions.MissingSchema,
                                                              requests.exceptions.InvalidSchema)):
                    raise FetchError(f"downloading {url} failed after {attempt + 1} tries ({one_line(exc)}); run "
                                     f"ie-explore fetch-data again to resume from {part}") from None
                time.sleep(min(cfg.retry_wait * 2 ** attempt, 30))
    if not part.exists():
        raise FetchError(f"{url} sent nothing: check the URL (or --*-url)")
    if md5:
        got = _md5(part)
        if got != md5:
            part.unlink()
            raise FetchError(f"{path.name} from {url} has md5 {got}, not the published {md5}: the download is "
                             "damaged or the file changed; it was deleted, run ie-explore fetch-data again")
    os.replace(part, path)
    return path


# --- shards --------------------------------------------------------------------------------------------------
def _tar_size(n: int) -> int:
    return 512 + -(-n // 512) * 512


class ShardWriter:
    """Writes ``(key, jpg, meta)`` samples as ``folder/PREFIXNNN.tar.gz``, a new shard every ``max_bytes`` of tar
    (deterministic: fixed member metadata, gzip level 9 without a timestamp)."""

    def __init__(self, folder: Path, prefix: str, max_bytes: int):
        self.folder, self.prefix, self.max_bytes = folder, prefix, max_bytes
        self.paths: list[Path] = []
        self._files: tuple | None = None
        self._bytes = 0

    def _open(self) -> None:
        path = self.folder / f"{self.prefix}{len(self.paths):03d}.tar.gz"
        raw = open(path, "wb")
        gz = gzip.GzipFile(filename=path.name.removesuffix(".gz"), mode="wb", fileobj=raw, compresslevel=9, mtime=0)
        self._files = (raw, gz, tarfile.open(fileobj=gz, mode="w"))
        self.paths.append(path)
        self._bytes = 0

    def _close(self) -> None:
        if self._files:
            raw, gz, tar = self._files
            tar.close()
            gz.close()
            raw.close()
            self._files = None

    def add(self, key: str, jpg: bytes, meta: dict) -> None:
        text = json.dumps(meta, sort_keys=True).encode()
        size = _tar_size(len(jpg)) + _tar_size(len(text))
        if self._files is None or (self._bytes and self._bytes + size > self.max_bytes):
            self._close()
            self._open()
        tar = self._files[2]
        for name, data in ((f"{key}.jpg", jpg), (f"{key}.json", text)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
        self._bytes += size

    def close(self) -> list[Path]:
        self._close()
        return self.paths


def write_shards(samples: Iterable[tuple[str, bytes, dict]], folder: Path, prefix: str, max_bytes: int) -> list[Path]:
    writer = ShardWriter(folder, prefix, max_bytes)
    try:
        for key, jpg, meta in samples:
            writer.add(key, jpg, meta)
    finally:
        paths = writer.close()
    return paths


# --- Tiny ImageNet -------------------------------------------------------------------------------------------
def _is_jpeg(data: bytes, what: str) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        if img.format != "JPEG":
            raise ValueError(f"{what} is not a JPEG")
    return data


def convert_tiny_imagenet(archive: Path, folder: Path, cfg: FetchConfig) -> dict:
    """``tiny-imagenet-200.zip`` as train and val shards plus ``tiny-imagenet-200-classes.tsv`` in ``folder``."""
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        top = next((n[:-len("wnids.txt")] for n in names if n.endswith("wnids.txt") and n.count("/") <= 1), None)
        if top is None:
            raise ValueError("no wnids.txt inside: not the tiny-imagenet-200 zip")
        wnids = z.read(top + "wnids.txt").decode().split()
        words = dict(line.split("\t", 1) for line in z.read(top + "words.txt").decode().splitlines() if "\t" in line)
        missing = [w for w in wnids if w not in words]
        if missing:
            raise ValueError(f"words.txt names no class {missing[0]}")
        classes = {w: words[w].strip() for w in wnids}
        pattern = re.compile(re.escape(top) + r"train/(n\d{8})/images/(\1_\d+)\.JPEG$")
        train = sorted((f"train/{m.group(2)}", n, m.group(1)) for n in names if (m := pattern.match(n)))
        labels = {}
        for line in z.read(top + "val/val_annotations.txt").decode().splitlines():
            if line.strip():
                file, wnid = line.split("\t")[:2]
                labels[file] = wnid
        val = sorted((f"val/{Path(f).stem}", f"{top}val/images/{f}", w) for f, w in labels.items())
        unknown = {w for _, _, w in train + val} - set(classes)
        if unknown:
            raise ValueError(f"images of class {sorted(unknown)[0]}, which wnids.txt does not list")
        if not train or not val:
            raise ValueError("no train or no val images inside")

        def samples(rows, split):
            for key, member, wnid in tqdm(rows, desc=f"tiny-imagenet-200 {split}", unit="img",
                                          disable=not cfg.progress, leave=False):
                yield key, _is_jpeg(z.read(member), member), {"names": classes[wnid], "path": member,
                                                             "source": "tiny-imagenet-200", "split": split,
                                                             "wnid": wnid}

        shards = write_shards(samples(train, "train"), folder, "tiny-imagenet-200-train-", cfg.shard_bytes)
        shards += write_shards(samples(val, "val"), folder, "tiny-imagenet-200-val-", cfg.shard_bytes)
    tsv = folder / "tiny-imagenet-200-classes.tsv"
    tsv.write_text("".join(f"{w}\t{classes[w]}\n" for w in sorted(classes)))
    return {"classes": len(classes), "train": len(train), "val": len(val), "files": [*shards, tsv]}


# --- CIFAR-10 ------------------------------------------------------------------------------------------------
class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR's batches (dicts of lists, strings and numpy arrays) and nothing that could run code."""

    ALLOWED = {("numpy._core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}

    def find_class(self, module, name):
        if module.startswith("numpy.core") and hasattr(np, "_core"):
            module = "numpy._core" + module[len("numpy.core"):]
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a CIFAR batch")
        return super().find_class(module, name)


def _unpickle(data: bytes) -> dict:
    obj = _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    if not isinstance(obj, dict):
        raise ValueError("a CIFAR batch is not a dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _cifar_batches(archive: Path) -> tuple[list[str], dict[str, list[dict]]]:
    wanted = {f"data_batch_{i}": "train" for i in range(1, 6)} | {"test_batch": "test", "batches.meta": "meta"}
    found: dict[str, dict] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = member.name.rpartition("/")[2]
            if member.isfile() and name in wanted:
                found[name] = _unpickle(tar.extractfile(member).read())
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise ValueError(f"{missing[0]} missing: not the cifar-10-python archive")
    labels = [n.decode() if isinstance(n, bytes) else n for n in found["batches.meta"]["label_names"]]
    splits = {"train": [found[f"data_batch_{i}"] for i in range(1, 6)], "test": [found["test_batch"]]}
    return labels, splits


def _cifar_samples(batches: list[dict], labels: list[str], split: str) -> list[tuple[str, np.ndarray, str, str]]:
    counts: Counter[str] = Counter()
    rows = []
    for batch in batches:
        data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        if len(data) != len(batch["labels"]):
            raise ValueError("a CIFAR batch has more or fewer labels than images")
        for image, y in zip(data, batch["labels"]):
            label = labels[y]
            n = f"{counts[label]:04d}"
            counts[label] += 1
            rows.append((f"{split}/{label}_{n}", image, label, f"{split}/{label}/{n}.jpg"))
    rows.sort(key=lambda r: r[0])
    return rows


def convert_cifar10(archive: Path, folder: Path, cfg: FetchConfig) -> dict:
    """``cifar-10-python.tar.gz`` as train and test shards in ``folder`` (each image re-encoded as JPEG)."""
    labels, splits = _cifar_batches(archive)
    out: dict = {"classes": len(labels), "files": []}
    for split, batches in splits.items():
        rows = _cifar_samples(batches, labels, split)

        def samples(rows=rows, split=split):
            for key, image, label, path in tqdm(rows, desc=f"cifar10 {split}", unit="img", disable=not cfg.progress,
                                                leave=False):
                buf = io.BytesIO()
                Image.fromarray(image).save(buf, "JPEG")
                yield key, buf.getvalue(), {"label": label, "path": path, "source": "cifar10", "split": split}

        out["files"] += write_shards(samples(), folder, f"cifar10-{split}-", cfg.shard_bytes)
        out[split] = len(rows)
    return out


# --- the command ---------------------------------------------------------------------------------------------
ARCHIVES = {"tiny-imagenet": ("tiny-imagenet-200.zip", convert_tiny_imagenet),
            "cifar10": ("cifar-10-python.tar.gz", convert_cifar10)}


def _publish(dest: Path, dataset: str, files: list[Path]) -> None:
    """Move a dataset's new files into ``dest`` in place of its old ones, then rewrite SHA256SUMS atomically."""
    prefixes = DATASETS[dataset]
    sums = {n: d for n, d in _sums(dest).items() if not n.startswith(prefixes)}
    for old in dest.iterdir():
        if old.is_file() and old.name.startswith(prefixes):
            old.unlink()
    for f in files:
        sums[f.name] = sha256(f)
        os.replace(f, dest / f.name)
    atomic_write_bytes(dest / "SHA256SUMS", "".join(f"{sums[n]}  {n}\n" for n in sorted(sums)).encode())


def _fetch_one(dataset: str, dest: Path, cfg: FetchConfig) -> dict:
    filename, convert = ARCHIVES[dataset]
    url, md5 = getattr(cfg, f"{dataset.replace('-', '_')}_url"), getattr(cfg, f"{dataset.replace('-', '_')}_md5")
    downloads = Path(cfg.downloads) if cfg.downloads else cache_root() / "downloads"
    archive = download(url, downloads / filename, md5, cfg)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / f".fetch-{dataset}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        try:
            out = convert(archive, tmp, cfg)
        except FetchError:
            raise
        except Exception as exc:  # whatever a damaged archive raises (zip, gzip, tar, pickle, JPEG, layout)
            raise FetchError(f"{archive} cannot be converted ({type(exc).__name__}: {one_line(exc, 120)}): the "
                             f"archive is damaged or not {filename}; delete it and run ie-explore fetch-data "
                             "again") from None
        files = out.pop("files")
        _publish(dest, dataset, files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out |= {"archive": filename, "archive_bytes": archive.stat().st_size, "shards": [f.name for f in files]}
    if not cfg.keep_archives:
        archive.unlink(missing_ok=True)
    return out


def fetch_data(cfg: FetchConfig | None = None) -> dict:
    """Fetch and convert the datasets of ``cfg`` that the data folder lacks; a no-op when it holds them all.

    Without ``cfg.dest`` the data folder is the one :func:`ie_env.paths.data_dir` finds (../shared/data, ...);
    when none is found the shards go to ``$IE_DATA_DIR`` or ``<cache>/data``.
    """
    cfg = cfg or FetchConfig()
    start = time.perf_counter()
    dest = Path(cfg.dest) if cfg.dest else default_dest()
    root = dest
    if not cfg.dest:
        try:
            root = data_dir()
        except DataMissingError:
            pass
    todo = [d for d in cfg.names if cfg.force or not has_dataset(root, d)]
    found = [d for d in cfg.names if d not in todo]
    if todo and root.resolve() != dest.resolve():
        raise FetchError(f"the project reads the data in {root}, which lacks verified {todo[0]} shards: fetch them "
                         f"into it (--dest {root}) or set IE_DATA_DIR to a folder of your own")
    fetched = {d: _fetch_one(d, dest, cfg) for d in todo}
    return {"data_dir": str(root.resolve()), "found": found, "fetched": fetched,
            "seconds": round(time.perf_counter() - start, 2)}


def summary_line(out: dict) -> str:
    """One human line about what :func:`fetch_data` did."""
    if not out["fetched"]:
        return f"shards of {', '.join(out['found'])} found in {out['data_dir']}: nothing to fetch"
    parts = [f"{d} ({sum(v for k, v in o.items() if k in ('train', 'val', 'test'))} images, {len(o['shards'])} "
             "files)" for d, o in out["fetched"].items()]
    return f"fetched {', '.join(parts)} into {out['data_dir']} in {out['seconds']:.0f} s"

