"""`ie-explore refetch`: a recorded run's failed downloads retried against a real HTTP server on 127.0.0.1 that
fails at first and recovers later."""
from __future__ import annotations

import json
import time

import pytest

from experiments.loopback_web import Server, make_image
from ie_env.run.cli import main as cli_main
from ie_env.types import SearchResult
from ie_env.web.download import Downloader
from offline_cache.refetch import RefetchConfig, refetch
from offline_cache.snapshot import Snapshot

DL = dict(allow_private=True, connect_timeout=1.0, read_timeout=0.5, deadline=2.0, retries=0, image_size=16)


def flaky_app(state: dict):
    """/a.jpg, /b.jpg: 503 while ``state["down"]``; /slow.jpg: too slow while down; then /a and /slow give new
    images and /b the same bytes as /c.jpg; /c.jpg always works, /d.jpg is always 404."""
    def app(h):
        if h.route == "/c.jpg" or (h.route == "/b.jpg" and not state["down"]):
            return h.send(200, make_image(3), "image/jpeg")
        if h.route in ("/a.jpg", "/b.jpg") and state["down"]:
            return h.send(503, b"busy", "text/plain")
        if h.route == "/slow.jpg" and state["down"]:
            time.sleep(1.2)
        if h.route in ("/a.jpg", "/slow.jpg"):
            return h.send(200, make_image(1 if h.route == "/a.jpg" else 2), "image/jpeg")
        return h.send(404, b"no", "text/plain")
    return app


@pytest.fixture()
def recorded(tmp_path):
    state = {"down": True}
    with Server(flaky_app(state)) as srv:
        snap = Snapshot(tmp_path / "snap", create=True)
        results = [SearchResult(i, f"k{n}", f"{srv.url}/{n}.jpg", "", "x") for i, n in enumerate("abcd")]
        results.append(SearchResult(4, "kslow", f"{srv.url}/slow.jpg", "", "x"))
        with Downloader(snapshot=snap, **DL) as d:
            d.fetch(results)
        snap.close()
        yield tmp_path / "snap", state, srv


def test_refetch_recovers_failures_without_duplicating_images(recorded):
    path, state, srv = recorded
    with Snapshot(path, readonly=True) as snap:
        assert snap.get_meta("download_status") == {"http_5xx": 2, "ok": 1, "http_4xx": 1, "timeout": 1}
        assert snap.inspect()["blobs"] == 1
    state["down"] = False
    out = refetch(path, RefetchConfig(statuses="http_5xx,timeout", downloader=DL))
    assert out["retried"] == 3 and out["before"] == {"http_5xx": 2, "timeout": 1}
    assert out["after"] == {"ok": 2, "duplicate": 1}  # /b.jpg now serves /c.jpg's image: stored once
    assert out["download_status"] == {"ok": 3, "duplicate": 1, "http_4xx": 1}
    with Snapshot(path, readonly=True) as snap:
        status = {url.rsplit("/", 1)[1]: s for url, s, _, _ in snap.downloads()}
        assert status == {"a.jpg": "ok", "b.jpg": "duplicate", "c.jpg": "ok", "d.jpg": "http_4xx", "slow.jpg": "ok"}
        assert snap.inspect()["blobs"] == 3 and snap.inspect()["image_sizes"] == {"16x16": 3} and snap.verify().ok
        assert snap.get_meta("download_status") == out["download_status"]
    assert srv.hits["/d.jpg"] == 1  # a status not asked for is not retried
    again = refetch(path, RefetchConfig(statuses="http_5xx,timeout", downloader=DL))
    assert again["retried"] == 0 and again["download_status"] == out["download_status"]


def test_refetch_command_line(recorded, capsys):
    path, state, _ = recorded
    state["down"] = False
    argv = ["refetch", str(path), "--status", "http_5xx", "--json", *[f"--downloader-option={k}={v}" for k, v in
                                                                    DL.items()]]
    assert cli_main(argv) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert out["after"] == {"ok": 1, "duplicate": 1} and "download status" in captured.err
    assert cli_main(["refetch", str(path), "--status", "ok"]) == 2
    assert "gave an image already" in capsys.readouterr().err
