import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from ie_env.types import SearchResult
from offline_cache.snapshot import Snapshot, SnapshotError


def results(query, n=5):
    return [SearchResult(r, f"{query}-{r}", f"http://x/{query}/{r}", f"{query} {r}", "test", "cc0", width=8,
                         height=8, meta={"wnid": "n0"}) for r in range(n)]


def test_round_trip_and_content_addressing(tmp_path):
    snap = Snapshot(tmp_path / "s", create=True)
    a = snap.put_blob(b"abc", "image/jpeg", 1, 1)
    assert snap.put_blob(b"abc") == a  # same bytes, one blob
    snap.put_results("eng", "tabby", results("tabby"))
    snap.put_download("http://x/a", "ok", a)
    assert snap.get_blob(a) == b"abc"
    got = snap.get_results("eng", "tabby")
    assert [r.key for r in got] == [f"tabby-{i}" for i in range(5)] and got[0].meta == {"wnid": "n0"}
    assert snap.get_results("eng", "never asked") is None
    assert snap.get_download("http://x/a") == ("ok", a)
    stats = snap.inspect()
    assert stats["blobs"] == 1 and stats["queries"] == 1 and stats["results"] == 5
    assert snap.verify().ok


def test_failed_transaction_leaves_nothing(tmp_path):
    snap = Snapshot(tmp_path / "s", create=True)
    with pytest.raises(RuntimeError):
        with snap.transaction():
            snap.put_results("eng", "q", results("q"))
            raise RuntimeError("crash mid-write")
    assert snap.get_results("eng", "q") is None and snap.inspect()["results"] == 0


def test_verify_names_damage(tmp_path):
    snap = Snapshot(tmp_path / "s", create=True)
    sha = snap.put_blob(b"good bytes")
    snap.put_results("eng", "q", results("q", 3))
    with sqlite3.connect(tmp_path / "s" / "snapshot.sqlite") as db:
        db.execute("UPDATE blobs SET data=? WHERE sha256=?", (b"evil bytes", sha))
        db.execute("DELETE FROM results WHERE rank=2")
    report = snap.verify()
    assert report.bad_blobs == [sha] and report.incomplete_queries == ["eng:q"] and not report.ok
    assert snap.get_results("eng", "q") is None  # an incomplete record is never accepted


def test_missing_snapshot_is_a_clear_error(tmp_path):
    with pytest.raises(SnapshotError, match="no snapshot"):
        Snapshot(tmp_path / "nothing")


WRITER = textwrap.dedent("""
    import sys
    from ie_env.types import SearchResult
    from offline_cache.snapshot import Snapshot
    snap = Snapshot(sys.argv[1], create=True)
    i = 0
    while True:
        rows = [SearchResult(r, f"k{i}-{r}", "u", "c", "s") for r in range(50)]
        snap.put_blob(f"blob {i}".encode() * 100)
        snap.put_results("eng", f"q{i}", rows)
        i += 1
""")


def test_sigkill_mid_write_never_leaves_half_a_record(tmp_path):
    """Two writer processes hammer one snapshot and are killed with SIGKILL; every record read is whole."""
    path = tmp_path / "s"
    Snapshot(path, create=True).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path)]) for _ in range(2)]
    time.sleep(3)
    for p in procs:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    snap = Snapshot(path, readonly=True)
    recorded = snap.recorded_queries("eng")
    assert len(recorded) > 5
    assert all(len(snap.get_results(e, q)) == 50 for e, q in recorded)
    assert snap.verify().ok
