"""Reading the real-photo shards of ../shared/data in place (webdataset-style ``.tar.gz``: KEY.jpg + KEY.json).

Every shard is verified against ``SHA256SUMS`` before it is read; a mismatch names the file.
"""
from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from ie_env.paths import DataMissingError, data_dir


class ShardError(RuntimeError):
    """A shard is missing, damaged or does not match SHA256SUMS."""


@cache
def _verified(path: Path, size: int, mtime: float) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256(path: Path) -> str:
    """The sha256 of a file, computed once per (path, size, mtime) in this process."""
    st = path.stat()
    return _verified(path, st.st_size, st.st_mtime)


def shard_files(prefix: str, root: Path | None = None) -> list[Path]:
    """The verified shards whose names start with ``prefix`` (e.g. ``cifar10-train-``), sorted."""
    root = Path(root) if root else data_dir()
    sums_file = root / "SHA256SUMS"
    if not sums_file.exists():
        raise DataMissingError(f"{sums_file} missing: run `ie-explore fetch-data` to download the shards into "
                               f"{root}, or copy them with their SHA256SUMS from ../shared/data")
    sums = dict(reversed(line.split()) for line in sums_file.read_text().splitlines() if line.strip())
    names = sorted(n for n in sums if n.startswith(prefix))
    if not names:
        raise DataMissingError(f"no shard named {prefix}* listed in {sums_file}: run `ie-explore fetch-data` "
                               "(downloads them from their public sources), or point IE_DATA_DIR at the shards")
    out = []
    for name in names:
        path = root / name
        if not path.exists():
            raise DataMissingError(f"shard {path} missing: copy it from ../shared/data (listed in SHA256SUMS)")
        st = path.stat()
        if _verified(path, st.st_size, st.st_mtime) != sums[name]:
            raise ShardError(f"sha256 mismatch for {path}: the file is damaged; copy it again from ../shared/data")
        out.append(path)
    return out


def iter_shards(paths: list[Path]) -> Iterator[tuple[str, bytes, dict]]:
    """Yield ``(key, jpeg_bytes, labels)`` for every sample of the shards, in archive order."""
    for path in paths:
        pending: dict[str, dict] = {}
        try:
            with tarfile.open(path, "r:gz") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    key, _, ext = member.name.rpartition(".")
                    slot = pending.setdefault(key, {})
                    slot[ext] = tar.extractfile(member).read()
                    if "jpg" in slot and "json" in slot:
                        del pending[key]
                        yield key, slot["jpg"], json.loads(slot["json"])
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ShardError(f"cannot read shard {path}: {exc}; copy it again from ../shared/data") from exc
