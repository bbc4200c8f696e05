"""The hostile-input corpus of the live path, each case against real servers on 127.0.0.1.

Download cases go through a recording :class:`Downloader`; each must end in its status, within the timeouts,
with the histogram in the snapshot counting it and no image stored for anything but an ``ok``. Search cases run
the live env against a search service that answers badly: the step must not crash or hang, the failure counts as
``search_error`` and no answer is recorded for it.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
import time
from collections import Counter

import pytest

import ie_env.web.netsafety as netsafety
from experiments.loopback_web import (
    GOOD,
    HOSTILE,
    HTML,
    PNG,
    Server,
    image_app,
    make_image,
    trickle,
)
from ie_env.types import SearchResult
from ie_env.web.download import Downloader
from offline_cache.snapshot import DB_NAME, Snapshot

FAST = dict(allow_private=True, connect_timeout=2.0, read_timeout=2.0, deadline=2.5, retries=2, backoff=0.01,
            max_retry_after=0.05, max_bytes=100_000, threads=8, per_host=8, image_size=32)
LONG = "/long/" + "a" * 5000 + ".jpg"


def extra_app(h) -> None:
    """More hostile endpoints on top of :func:`http_fixtures.image_app`."""
    path = h.route
    if path == "/truncated.png":
        return h.send(200, PNG[: len(PNG) // 2], "image/png")
    if path == "/garbage.jpg":
        return h.send(200, b"\xff\xd8\xff\xe0" + hashlib.sha256(b"x").digest() * 50, "image/jpeg")
    if path == "/empty.jpg":
        return h.send(200, b"", "image/jpeg")
    if path == "/image.svg":
        return h.send(200, b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "image/svg+xml")
    if path == "/gzip-bomb.jpg":  # 200 kB on the wire, 60 MB once decoded
        return h.send(200, gzip.compress(b"\0" * 60_000_000, 9), "image/jpeg", {"Content-Encoding": "gzip"})
    if path == "/short-body.jpg":  # promises 50 kB, sends 100 bytes and hangs up
        h.send(200, GOOD[:100], "image/jpeg", length=50_000)
        h.close_connection = True
        return
    if path == "/hang-up.jpg":  # closes without answering
        h.close_connection = True
        return
    if path == "/b\u00fccher/\u00fc.jpg" or path == "/b%C3%BCcher/%C3%BC.jpg":
        return h.send(200, make_image(31), "image/jpeg")
    if path == "/png-as-jpeg.jpg":
        return h.send(200, PNG, "image/jpeg")
    if path == "/redirect-ftp":
        return h.send(302, b"", "", {"Location": "ftp://127.0.0.1/x.jpg"})
    return image_app(h)


@pytest.fixture(scope="module")
def host():
    with Server(extra_app) as s:
        yield s


def _url(host, u: str) -> str:
    return host.url + u if u.startswith("/") else u


# (case id, URLs, the status of each URL, downloader options)
DOWNLOAD_CASES = [(p.strip("/").replace(".", "-"), [p], [s], {}) for p, s in sorted(HOSTILE.items())] + [
    ("truncated-png", ["/truncated.png"], ["corrupt"], {}),
    ("garbage-after-jpeg-magic", ["/garbage.jpg"], ["not_image"], {}),
    ("empty-body", ["/empty.jpg"], ["not_image"], {}),
    ("svg-as-image", ["/image.svg"], ["not_image"], {}),
    ("gzip-bomb", ["/gzip-bomb.jpg"], ["too_large"], {}),
    ("body-shorter-than-declared", ["/short-body.jpg"], ["connection_error"], {}),
    ("hang-up-without-answer", ["/hang-up.jpg"], ["connection_error"], {}),
    ("png-labelled-jpeg", ["/png-as-jpeg.jpg"], ["ok"], {}),
    ("unicode-path", ["/b\u00fccher/\u00fc.jpg"], ["ok"], {}),
    ("very-long-url", [LONG], ["bad_url"], {}),
    ("redirect-to-ftp", ["/redirect-ftp"], ["bad_scheme"], {}),
    ("private-address", ["/good/900.jpg"], ["blocked_address"], {"allow_private": False}),
    ("file-scheme", ["file:///etc/passwd"], ["bad_scheme"], {}),
    ("ftp-scheme", ["ftp://127.0.0.1/x.jpg"], ["bad_scheme"], {}),
    ("data-scheme", ["data:image/png;base64,iVBORw0KGgo="], ["bad_scheme"], {}),
    ("javascript-scheme", ["javascript:alert(1)"], ["bad_scheme"], {}),
    ("idn-host-unresolvable", ["http://b\u00fccher.invalid/x.jpg"], ["dns_error"], {}),
    ("idn-host-invalid", ["http://\u2603.invalid/x.jpg"], ["bad_url"], {}),
    ("no-host", ["http:///x.jpg"], ["bad_url"], {}),
    ("bad-port", ["http://127.0.0.1:99999/x.jpg"], ["bad_url"], {}),
    ("duplicate-bytes-other-urls", ["/dup/a.jpg", "/dup/b.jpg", "/dup/c.jpg"], ["ok", "duplicate", "duplicate"], {}),
    ("same-url-twice", ["/good/901.jpg", "/good/901.jpg"], ["ok", "duplicate"], {}),
    ("503-storm-then-image", ["/flaky/902.jpg"], ["ok"], {}),
]


def snapshot_rows(path):
    con = sqlite3.connect(path / DB_NAME)
    try:
        blobs = {sha: hashlib.sha256(data).hexdigest() for sha, data in con.execute("SELECT sha256, data FROM blobs")}
        downloads = dict(con.execute("SELECT url, status FROM downloads").fetchall())
        status = json.loads(con.execute("SELECT value FROM meta WHERE key='download_status'").fetchone()[0])
        return blobs, downloads, status
    finally:
        con.close()


@pytest.mark.parametrize("case", DOWNLOAD_CASES, ids=[c[0] for c in DOWNLOAD_CASES])
def test_hostile_download(case, host, tmp_path):
    _, urls, statuses, options = case
    urls = [_url(host, u) for u in urls]
    snap = Snapshot(tmp_path / "snap", create=True)
    start = time.monotonic()
    with Downloader(**{**FAST, **options}, snapshot=snap) as d:
        got = d.fetch([SearchResult(rank=i, key=f"k{i}", url=u, caption="", source="t") for i, u in enumerate(urls)])
    elapsed = time.monotonic() - start
    snap.close()
    assert [f.status for f in got] == statuses, [(f.status, f.detail) for f in got]
    assert elapsed < 2 * FAST["deadline"] + 1.0  # no hang past the timeouts
    blobs, downloads, status = snapshot_rows(tmp_path / "snap")
    assert status == dict(Counter(statuses)) == dict(d.status)
    assert all(sha == digest for sha, digest in blobs.items())  # every stored image is what its key says
    assert set(blobs) == {f.sha256 for f in got if f.status == "ok"}  # and nothing but the good ones
    assert set(downloads) == set(urls) and {downloads[u] for u in urls} <= set(statuses)
    if case[0] == "very-long-url":
        assert host.hits[LONG] == 0


def test_hostile_redirect_to_a_private_address(host, tmp_path, monkeypatch):
    # 127.0.0.1 plays a public host here, 127.0.0.2 a private one: the redirect's target is checked too.
    monkeypatch.setattr(netsafety, "is_public_address", lambda ip: ip == "127.0.0.1")
    snap = Snapshot(tmp_path / "snap", create=True)
    with Downloader(**{**FAST, "allow_private": False}, snapshot=snap) as d:
        (got,) = d.fetch([SearchResult(rank=0, key="k", url=host.url + "/redirect-private", caption="", source="t")])
    snap.close()
    assert got.status == "blocked_address"
    blobs, downloads, status = snapshot_rows(tmp_path / "snap")
    assert not blobs and status == {"blocked_address": 1}


# --- the search API answers badly -----------------------------------------------------------------------------
def search_app(mode: str, image_base: str):
    def app(h):
        if mode == "malformed":
            return h.send(200, b'[{"url": "', "application/json")
        if mode == "oversized":
            return h.send(200, b'[{"url": "' + b"a" * 3_000_000 + b'"}]', "application/json")
        if mode == "html":
            return h.send(200, HTML, "text/html")
        if mode == "500-storm":
            return h.send(500, b"oops", "text/plain")
        if mode == "429-storm":
            return h.send(429, b"slow down", "text/plain", {"Retry-After": "0"})
        if mode == "wrong-shape":
            return h.json({"results": "none today"})
        if mode == "not-objects":
            return h.json([1, "two", None])
        if mode == "trickle":
            return trickle(h, "application/json", 1000, b" ", 100)
        if mode == "hostile-urls":
            urls = ["file:///etc/passwd", "javascript:alert(1)", "data:image/png;base64,AAAA",
                    image_base + LONG, image_base + "/bomb.png", image_base + "/html-as-jpeg.jpg",
                    image_base + "/good/950.jpg", image_base + "/dup/x.jpg", image_base + "/dup/y.jpg"]
            return h.json([{"url": u, "caption": f"c{i}"} for i, u in enumerate(urls)])
        raise AssertionError(mode)
    return app


SEARCH_CASES = {"malformed": None, "oversized": None, "html": None, "500-storm": None, "429-storm": None,
                "wrong-shape": None, "not-objects": None, "trickle": None,
                "hostile-urls": {"bad_scheme": 3, "bad_url": 1, "decompression_bomb": 1, "not_image": 1, "ok": 2,
                                 "duplicate": 1}}
"""Search-answer case -> the download histogram of one query (``None``: the search fails, nothing downloads)."""


@pytest.mark.parametrize("mode", list(SEARCH_CASES))
def test_hostile_search_answer(mode, host, tmp_path):
    from ie_env.data.vocabulary import load_vocabulary
    from ie_env.envs.live_env import InternetExplorerLiveEnv

    v = load_vocabulary()
    with Server(search_app(mode, host.url)) as search:
        env = InternetExplorerLiveEnv(
            engine="clip_retrieval", record=str(tmp_path / "rec"), target="tiny-imagenet:dog.n.01",
            frozen_encoder="resnet18", concepts=[v.find("tabby")[0], v.find("lemon")[0]], budget=2,
            queries_per_iteration=2, results_per_query=20, reward_targets=50,
            engine_options={"base_url": search.url, "max_bytes": 1_000_000, "read_timeout": 1.0, "deadline": 2.0,
                            "retries": 2},
            downloader={k: v for k, v in FAST.items() if k != "image_size"})
        try:
            env.reset(seed=0)
            start = time.monotonic()
            for action in (0, 1):
                _, reward, _, truncated, info = env.step(action)
            elapsed = time.monotonic() - start
            status = dict(env.fetcher.status)
        finally:
            env.close()
    assert truncated and elapsed < 12.0
    rec = sqlite3.connect(tmp_path / "rec" / DB_NAME)
    answers = rec.execute("SELECT COUNT(*) FROM queries").fetchone()[0]
    blobs = rec.execute("SELECT COUNT(*) FROM blobs").fetchone()[0]
    rec.close()
    expected = SEARCH_CASES[mode]
    if expected is None:
        assert status == {"search_error": 2} and len(env.search_errors) == 2
        assert "\n" not in env.search_errors[0]
        assert answers == 0 and blobs == 0  # a failed answer is not recorded
    else:
        doubled = Counter({k: 2 * n for k, n in expected.items()})
        doubled["ok"] -= 2  # the second query's answer holds the same URLs: all seen before
        doubled["duplicate"] += 2
        assert status == dict(+doubled) and answers == 2 and blobs == expected["ok"]
