"""The web snapshot: a content-addressed image store plus an index of query -> ranked results.

Format (version 1). A snapshot is a directory holding one SQLite database, ``snapshot.sqlite`` (WAL mode):

============ ==========================================================================================
table        rows
============ ==========================================================================================
``meta``     ``key`` -> JSON ``value``: ``format`` (1), ``world`` (name), build parameters, run statistics.
``blobs``    the image store: ``sha256`` (hex of the bytes, primary key), ``size``, ``mime``, ``width``,
             ``height``, ``data`` (the bytes). Content-addressed: equal bytes are stored once.
``images``   a world's catalogue (what an offline engine can return): ``key`` (primary key), ``sha256``,
             ``url``, ``caption``, ``source``, ``license``, ``width``, ``height``, ``meta`` (JSON).
``queries``  one row per recorded answer: ``engine``, ``query``, ``n_results``, ``created``.
``results``  the ranked answers: ``engine``, ``query``, ``rank``, ``key``, ``url``, ``caption``,
             ``source``, ``license``, ``sha256``, ``width``, ``height``, ``meta`` (JSON).
``downloads`` one row per URL fetched by a live downloader: ``url``, ``status``, ``sha256``, ``detail``.
``rewards``  the reward a recording run gave each image it downloaded: ``sha256`` (primary key), ``reward``,
             ``query`` (the one that brought it), ``relevant`` (ground truth, NULL where there is none),
             ``iteration``. A later run recording into the snapshot replaces an image's row.
============ ==========================================================================================

Atomicity: a query's ``queries`` row and all its ``results`` rows are written in one transaction, and the
reader only returns an answer whose ``queries`` row exists and whose result count equals ``n_results``; a
crash mid-write rolls back with SQLite's journal, so a half-written record is never accepted. Several
processes may write at once (SQLite serialises writers; ``busy_timeout`` waits for the lock). Keys are
database values, never file names, so no key can point outside the snapshot directory.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ie_env.types import SearchResult

FORMAT = 1
DB_NAME = "snapshot.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, mime TEXT,
    width INTEGER, height INTEGER, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS images (key TEXT PRIMARY KEY, sha256 TEXT NOT NULL, url TEXT, caption TEXT,
    source TEXT, license TEXT, width INTEGER, height INTEGER, meta TEXT);
CREATE TABLE IF NOT EXISTS queries (engine TEXT NOT NULL, query TEXT NOT NULL, n_results INTEGER NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (engine, query));
CREATE TABLE IF NOT EXISTS results (engine TEXT NOT NULL, query TEXT NOT NULL, rank INTEGER NOT NULL,
    key TEXT NOT NULL, url TEXT, caption TEXT, source TEXT, license TEXT, sha256 TEXT, width INTEGER,
    height INTEGER, meta TEXT, PRIMARY KEY (engine, query, rank));
CREATE TABLE IF NOT EXISTS downloads (url TEXT PRIMARY KEY, status TEXT NOT NULL, sha256 TEXT, detail TEXT,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rewards (sha256 TEXT PRIMARY KEY, reward REAL NOT NULL, query TEXT NOT NULL,
    relevant INTEGER, iteration INTEGER, created REAL NOT NULL);
"""


class SnapshotError(RuntimeError):
    """A snapshot is missing, of an unknown format, or inconsistent."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class VerifyReport:
    """What :meth:`Snapshot.verify` found; ``ok`` when every list is empty."""

    blobs_checked: int = 0
    bad_blobs: list[str] = field(default_factory=list)
    """Blobs whose bytes no longer hash to their key."""
    incomplete_queries: list[str] = field(default_factory=list)
    """Recorded queries whose result count differs from the count written with them."""
    missing_blobs: list[str] = field(default_factory=list)
    """sha256 values referenced by images, results or downloads that the store lacks."""

    @property
    def ok(self) -> bool:
        return not (self.bad_blobs or self.incomplete_queries or self.missing_blobs)


class Snapshot:
    """Reader and writer of one snapshot directory.

    Args:
        path: the snapshot directory.
        create: make the directory and the database if missing (else a missing snapshot is an error).
        readonly: open the database read-only (replay, inspection).
    """

    def __init__(self, path: str | Path, create: bool = False, readonly: bool = False):
        self.path = Path(path)
        db = self.path / DB_NAME
        if not db.exists() and not create:
            raise SnapshotError(f"no snapshot at {self.path} ({DB_NAME} missing): build or record one first")
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        uri = f"file:{db}?mode=ro" if readonly else f"file:{db}"
        self._conn = sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._depth = 0
        if not readonly:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            if self.get_meta("format") is None:
                self.set_meta("format", FORMAT)
        fmt = self.get_meta("format")
        if fmt != FORMAT:
            raise SnapshotError(f"{self.path}: snapshot format {fmt!r}, this code reads format {FORMAT}")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them land, or (on any exception or crash) none does. Nests."""
        with self._lock:
            if self._depth == 0:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._conn.execute("COMMIT")

    def set_meta(self, key: str, value) -> None:
        with self.transaction():
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def put_blob(self, data: bytes, mime: str = "", width: int = 0, height: int = 0) -> str:
        """Store image bytes under their sha256 (a no-op when already stored); returns the hash."""
        digest = sha256_hex(data)
        with self.transaction():
            self._conn.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?, ?, ?)",
                               (digest, len(data), mime, width, height, data))
        return digest

    def put_images(self, rows: Iterable[SearchResult]) -> None:
        """Add catalogue entries (an offline world's images); each ``sha256`` must already be stored."""
        with self.transaction():
            self._conn.executemany(
                "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.key, r.sha256, r.url, r.caption, r.source, r.license, r.width, r.height, json.dumps(r.meta))
                 for r in rows])

    def put_results(self, engine: str, query: str, results: list[SearchResult]) -> None:
        """Record an engine's whole answer to a query, atomically (replaces an earlier answer)."""
        with self.transaction():
            self._conn.execute("DELETE FROM results WHERE engine=? AND query=?", (engine, query))
            self._conn.executemany(
                "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(engine, query, r.rank, r.key, r.url, r.caption, r.source, r.license, r.sha256, r.width,
                  r.height, json.dumps(r.meta)) for r in results])
            self._conn.execute("INSERT OR REPLACE INTO queries VALUES (?, ?, ?, ?)",
                               (engine, query, len(results), time.time()))

    def put_download(self, url: str, status: str, sha256: str = "", detail: str = "") -> None:
        """Record the outcome of fetching ``url`` (its blob, when ``ok``, must be stored first)."""
        with self.transaction():
            self._conn.execute("INSERT OR REPLACE INTO downloads VALUES (?, ?, ?, ?, ?)",
                               (url, status, sha256, detail, time.time()))

    def put_rewards(self, query: str, hashes: list[str], rewards: list[float], relevant: list | None = None,
                    iteration: int = 0) -> None:
        """Keep the reward a run gave each of these images (brought by ``query``); ``relevant``: ground truth per
        image, where there is one."""
        flags = relevant if relevant is not None else [None] * len(hashes)
        now = time.time()
        with self.transaction():
            self._conn.executemany("INSERT OR REPLACE INTO rewards VALUES (?, ?, ?, ?, ?, ?)",
                                   [(h, float(r), query, None if f is None else int(bool(f)), int(iteration), now)
                                    for h, r, f in zip(hashes, rewards, flags)])

    # --- reading ---------------------------------------------------------------------------------
    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def get_meta(self, key: str, default=None):
        rows = self._query("SELECT value FROM meta WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def meta(self) -> dict:
        return {k: json.loads(v) for k, v in self._query("SELECT key, value FROM meta ORDER BY key")}

    def has_blob(self, sha256: str) -> bool:
        return bool(self._query("SELECT 1 FROM blobs WHERE sha256=?", (sha256,)))

    def get_blob(self, sha256: str) -> bytes:
        rows = self._query("SELECT data FROM blobs WHERE sha256=?", (sha256,))
        if not rows:
            raise KeyError(f"blob {sha256} not in snapshot {self.path}")
        return rows[0][0]

    def _where_in(self, sql: str, values: list[str]) -> list[tuple]:
        """``sql``, whose ``{marks}`` is an ``IN`` list, run over ``values`` 500 at a time (SQLite's limit on
        parameters)."""
        rows: list[tuple] = []
        for start in range(0, len(values), 500):
            part = values[start:start + 500]
            rows += self._query(sql.format(marks=",".join("?" * len(part))), tuple(part))
        return rows

    def get_blobs(self, hashes: list[str]) -> dict[str, bytes]:
        """Several blobs in one round trip (missing ones are left out)."""
        return dict(self._where_in("SELECT sha256, data FROM blobs WHERE sha256 IN ({marks})", hashes))

    @staticmethod
    def _result(row: tuple) -> SearchResult:
        rank, key, url, caption, source, license, sha, width, height, meta = row
        return SearchResult(rank, key, url, caption, source, license, sha or "", width or 0, height or 0,
                            json.loads(meta) if meta else {})

    def get_results(self, engine: str, query: str) -> list[SearchResult] | None:
        """The recorded answer, or ``None`` when this query was never (completely) recorded."""
        with self._lock:
            head = self._query("SELECT n_results FROM queries WHERE engine=? AND query=?", (engine, query))
            if not head:
                return None
            rows = self._query("SELECT rank, key, url, caption, source, license, sha256, width, height, meta "
                               "FROM results WHERE engine=? AND query=? ORDER BY rank", (engine, query))
        if len(rows) != head[0][0]:
            return None
        return [self._result(r) for r in rows]

    def recorded_queries(self, engine: str | None = None) -> list[tuple[str, str]]:
        if engine is None:
            return self._query("SELECT engine, query FROM queries ORDER BY engine, query")
        return self._query("SELECT engine, query FROM queries WHERE engine=? ORDER BY query", (engine,))

    def get_download(self, url: str) -> tuple[str, str] | None:
        """``(status, sha256)`` recorded for ``url``, or ``None``."""
        rows = self._query("SELECT status, sha256 FROM downloads WHERE url=?", (url,))
        return (rows[0][0], rows[0][1] or "") if rows else None

    def downloads(self) -> list[tuple[str, str, str, str]]:
        """Every recorded fetch as ``(url, status, sha256, detail)``, in the order they were recorded."""
        return [(u, st, sha or "", d or "") for u, st, sha, d in self._query(
            "SELECT url, status, sha256, detail FROM downloads ORDER BY created, url")]

    def rewards(self) -> dict[str, tuple[float, str, bool | None]]:
        """``sha256 -> (reward, query, relevant)`` kept by the runs recorded into this snapshot (empty when none
        kept any, or the snapshot predates the table)."""
        if not self._query("SELECT 1 FROM sqlite_master WHERE type='table' AND name='rewards'"):
            return {}
        return {sha: (reward, query, None if rel is None else bool(rel))
                for sha, reward, query, rel in self._query("SELECT sha256, reward, query, relevant FROM rewards")}

    def captions(self, hashes: list[str]) -> dict[str, str]:
        """A caption for each of these images that has one (its catalogue entry's, else a recorded result's)."""
        out: dict[str, str] = {}
        for table in ("results", "images"):  # the catalogue's caption wins; within a table the first row's
            out.update(self._where_in(f"SELECT sha256, caption FROM {table} WHERE sha256 IN ({{marks}}) "
                                      "AND caption != '' ORDER BY rowid DESC", hashes))
        return out

    def images(self) -> list[SearchResult]:
        """The world's catalogue, ordered by key."""
        rows = self._query("SELECT 0, key, url, caption, source, license, sha256, width, height, meta "
                           "FROM images ORDER BY key")
        return [self._result(r) for r in rows]

    # --- checking --------------------------------------------------------------------------------
    def verify(self) -> VerifyReport:
        """Re-hash every stored image and check that every record is complete and every reference resolves."""
        report = VerifyReport()
        with self._lock:
            for sha, data in self._conn.execute("SELECT sha256, data FROM blobs"):
                report.blobs_checked += 1
                if sha256_hex(data) != sha:
                    report.bad_blobs.append(sha)
        report.incomplete_queries = [f"{e}:{q}" for e, q in self._query(
            "SELECT q.engine, q.query FROM queries q LEFT JOIN results r ON r.engine=q.engine AND r.query=q.query "
            "GROUP BY q.engine, q.query HAVING COUNT(r.rank) != MAX(q.n_results)")]
        report.missing_blobs = sorted({s for (s,) in self._query(
            "SELECT sha256 FROM images WHERE sha256 NOT IN (SELECT sha256 FROM blobs) UNION "
            "SELECT sha256 FROM downloads WHERE status='ok' AND sha256 NOT IN (SELECT sha256 FROM blobs)")})
        return report

    def inspect(self) -> dict:
        """Statistics: counts, bytes, image sizes, sources, licences, download statuses."""
        one = lambda sql: self._query(sql)[0][0]  # noqa: E731
        db = self.path / DB_NAME
        return {
            "path": str(self.path),
            "format": self.get_meta("format"),
            "world": self.get_meta("world"),
            "blobs": one("SELECT COUNT(*) FROM blobs"),
            "blob_bytes": one("SELECT COALESCE(SUM(size), 0) FROM blobs"),
            "disk_bytes": sum(p.stat().st_size for p in self.path.iterdir() if p.is_file()) if db.exists() else 0,
            "images": one("SELECT COUNT(*) FROM images"),
            "queries": one("SELECT COUNT(*) FROM queries"),
            "results": one("SELECT COUNT(*) FROM results"),
            "image_sizes": {f"{w}x{h}": n for w, h, n in self._query(
                "SELECT width, height, COUNT(*) FROM blobs GROUP BY width, height ORDER BY 3 DESC LIMIT 10")},
            "sources": dict(self._query("SELECT source, COUNT(*) FROM images GROUP BY source ORDER BY 2 DESC")),
            "licenses": dict(self._query("SELECT license, COUNT(*) FROM images GROUP BY license ORDER BY 2 DESC")),
            "download_status": dict(Counter(dict(self._query(
                "SELECT status, COUNT(*) FROM downloads GROUP BY status")))),
        }
