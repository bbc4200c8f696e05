"""The download scheduler against real HTTP servers on 127.0.0.1: good images, hostile ones, limits, de-duplication
and records (connection safety, image processing and the JSON client have test files of their own)."""
from __future__ import annotations

import hashlib
import io
import time

import pytest
from PIL import Image

import ie_env.web.download as download
from experiments.loopback_web import HOSTILE, Server, image_app
from ie_env.types import SearchResult
from ie_env.web.download import (
    Downloader,
    DownloaderConfig,
    Fetched,
    format_status,
)
from offline_cache.snapshot import Snapshot

FAST = dict(allow_private=True, connect_timeout=2.0, read_timeout=2.0, deadline=2.5, retries=2, backoff=0.01,
            max_retry_after=0.05, max_bytes=100_000, threads=16, per_host=16, image_size=32)


def results(urls: list[str]) -> list[SearchResult]:
    return [SearchResult(rank=i, key=u, url=u, caption="", source="test") for i, u in enumerate(urls)]


@pytest.fixture(scope="module")
def server():
    with Server(image_app) as s:
        yield s


def test_good_images_resized_hashed_in_order(server):
    urls = [f"{server.url}/good/{i}.jpg" for i in range(20)] + [f"{server.url}/good.png", f"{server.url}/no-type.jpg"]
    with Downloader(**FAST) as d:
        got = d.fetch(results(urls))
    assert [f.url for f in got] == urls
    assert all(f.status == "ok" for f in got), [(f.url, f.status, f.detail) for f in got]
    for f in got:
        assert f.sha256 == hashlib.sha256(f.image).hexdigest()
        with Image.open(io.BytesIO(f.image)) as img:
            assert img.size == (32, 32) == (f.width, f.height) and img.mode == "RGB"
    assert len({f.sha256 for f in got}) == len(urls)
    assert d.status == {"ok": len(urls)}



def test_duplicates_same_bytes_other_urls_and_repeated_urls(server):
    urls = [f"{server.url}/dup/{i}.jpg" for i in range(4)] + [f"{server.url}/good/501.jpg"] * 2
    with Downloader(**FAST) as d:
        first = d.fetch(results(urls))
        again = d.fetch(results(urls[:1]))
    assert [f.status for f in first] == ["ok", "duplicate", "duplicate", "duplicate", "ok", "duplicate"]
    assert len({f.sha256 for f in first[:4]}) == 1 and first[1].image is None
    assert again[0].status == "duplicate" and again[0].sha256 == first[0].sha256
    assert server.hits["/good/501.jpg"] == 1  # a URL is fetched once per downloader
    assert d.status == {"ok": 2, "duplicate": 5}


@pytest.mark.parametrize("path,status", sorted(HOSTILE.items()))
def test_hostile_endpoint_status(server, path, status):
    start = time.monotonic()
    with Downloader(**FAST) as d:
        (got,) = d.fetch(results([server.url + path]))
    assert got.status == status, got.detail
    assert got.image is None and got.sha256 == ""
    assert time.monotonic() - start < 5.5  # the 2.5 s deadline holds even against trickling servers


def test_hostile_mix_in_one_batch_gives_histogram(server):
    urls = [server.url + p for p in HOSTILE] + [f"{server.url}/good/{i}.jpg" for i in range(10)]
    urls += [f"{server.url}/flaky/{i}.jpg" for i in range(3)] + [f"{server.url}/dup/9.jpg", f"{server.url}/dup/10.jpg"]
    urls += ["file:///etc/passwd", "ftp://example.com/x.jpg", "data:image/png;base64,AAAA", "http://", "not a url"]
    start = time.monotonic()
    with Downloader(**FAST) as d:
        got = d.fetch(results(urls))
    assert time.monotonic() - start < 9.0
    by_url = {f.url: f.status for f in got}
    for p, status in HOSTILE.items():
        assert by_url[server.url + p] == status
    assert all(by_url[f"{server.url}/flaky/{i}.jpg"] == "ok" for i in range(3))  # retried past two 503s
    assert [by_url[u] for u in urls[-5:]] == ["bad_scheme", "bad_scheme", "bad_scheme", "bad_url", "bad_scheme"]
    assert d.status["ok"] == 14 and d.status["duplicate"] == 1
    table = format_status(d.status)
    assert "ok" in table and "total" in table and str(len(urls)) in table


def test_hostile_retry_after_is_honoured_and_capped(server):
    with Downloader(**{**FAST, "retries": 3, "max_retry_after": 0.1, "deadline": 5.0}) as d:
        start = time.monotonic()
        (got,) = d.fetch(results([f"{server.url}/retry-after-long.jpg"]))
    assert got.status == "http_429" and time.monotonic() - start < 2.0
    assert server.hits["/retry-after-long.jpg"] >= 4  # 1 + 3 retries


def test_hostile_private_addresses_refused_by_default(server):
    with Downloader(**{**FAST, "allow_private": False}) as d:
        got = d.fetch(results([f"{server.url}/good/603.jpg", server.url.replace("127.0.0.1", "localhost") + "/good/604.jpg"]))
    assert [f.status for f in got] == ["blocked_address", "blocked_address"]
    assert server.hits["/good/603.jpg"] == 0 and server.hits["/good/604.jpg"] == 0





def test_robots_can_be_ignored_when_asked(server):
    with Downloader(**{**FAST, "respect_robots": False}) as d:
        (got,) = d.fetch(results([f"{server.url}/noai.jpg"]))
    assert got.status == "ok"


def test_per_host_limit_and_bounded_work(server):
    import threading

    live, peak, lock = [0], [0], threading.Lock()
    real = Downloader._download

    def counting(self, url):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        try:
            time.sleep(0.02)
            return real(self, url)
        finally:
            with lock:
                live[0] -= 1

    with Downloader(**{**FAST, "per_host": 3}) as d:
        d._download = counting.__get__(d)
        got = d.fetch(results([f"{server.url}/good/{i}.jpg" for i in range(100, 130)]))
    assert all(f.status == "ok" for f in got) and 1 <= peak[0] <= 3


def test_records_into_snapshot(server, tmp_path):
    snap = Snapshot(tmp_path / "snap", create=True)
    urls = [f"{server.url}/good/{i}.jpg" for i in range(3)] + [f"{server.url}/dup/1.jpg", f"{server.url}/dup/2.jpg",
                                                                f"{server.url}/noai.jpg"]
    with Downloader(snapshot=snap, **FAST) as d:
        got = d.fetch(results(urls))
    for f in got:
        status, sha = snap.get_download(f.url)
        assert status == f.status and sha == f.sha256
        if f.status == "ok":
            assert snap.get_blob(f.sha256) == f.image
    assert snap.get_meta("download_status") == {"ok": 4, "duplicate": 1, "opted_out": 1}
    assert snap.verify().ok


def test_config_errors_are_one_line():
    for bad in (dict(image_size=-1), dict(threads=0), dict(resize_mode="zoom"), dict(deadline=0), dict(jpeg_quality=0)):
        with pytest.raises(ValueError) as e:
            DownloaderConfig(**bad).validate()
        assert "\n" not in str(e.value)


def test_fetched_equality_ignores_detail():
    assert Fetched("u", "k", "ok", "s", b"x", 1, 1, "a") == Fetched("u", "k", "ok", "s", b"x", 1, 1, "b")


def test_x_robots_tag_parsing():
    assert download._opt_out("noai") == "noai"
    assert download._opt_out("noindex, nofollow") == "noindex"
    assert download._opt_out("googlebot: nofollow, noimageindex") == "noimageindex"
    assert download._opt_out("otherbot: noai") == ""
    assert download._opt_out("img2dataset: noimageai") == "noimageai"
    assert download._opt_out("nofollow, unavailable_after: 25 Jun 2010 15:00:00 PST") == ""
