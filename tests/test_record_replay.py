"""Record a live run (fake Openverse + image host on 127.0.0.1), then replay it offline: same answers, same bytes."""
from __future__ import annotations

import pytest

from experiments.loopback_web import Server, image_app, openverse_app
from ie_env.types import SearchResult
from ie_env.web.search import SearchError, make_engine
from ie_env.web.search.openverse import OpenverseEngine
from offline_cache.recorder import RecordingEngine
from offline_cache.replay import ReplayEngine, SnapshotFetcher
from offline_cache.snapshot import Snapshot

QUERIES = ["tabby cat", "sports car", "tabby cat", "owl"]
DL = dict(allow_private=True, connect_timeout=1.0, read_timeout=1.0, deadline=2.0, retries=1, backoff=0.01,
          image_size=16, threads=8)


def episode(engine, fetcher, image_base: str):
    """What an environment would see: per query, the results and the fetched images (plus a few extra URLs:
    an opted-out image and one image under two URLs)."""
    out = []
    for q in QUERIES:
        res = engine.search(q, 12)
        extra = [SearchResult(len(res), "hostile", image_base + "/noai.jpg", "", "x"),
                 SearchResult(len(res) + 1, "dup", image_base + "/dup/1.jpg", "", "x"),
                 SearchResult(len(res) + 2, "dup2", image_base + "/dup/2.jpg", "", "x")]
        out.append((res, fetcher.fetch(res + extra)))
    return out


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "snap"
    with Server(image_app) as images, Server(openverse_app(images.url)) as api:
        live = OpenverseEngine(base_url=api.url, connect_timeout=1.0, read_timeout=2.0, deadline=4.0)
        snap = Snapshot(path, create=True)
        engine = RecordingEngine(live, snap)
        with engine.downloader(**DL) as downloader:
            run = episode(engine, downloader, images.url)
            status = dict(downloader.status)
        snap.close()
    return path, run, status, images.url


def test_recording_holds_answers_images_and_histogram(recorded):
    path, run, status, base = recorded
    snap = Snapshot(path, readonly=True)
    assert sorted(q for _, q in snap.recorded_queries("openverse")) == sorted(set(QUERIES))
    assert snap.get_meta("download_status") == status
    assert snap.get_meta("recorded_engines") == ["openverse"]
    assert status["ok"] > 0 and status["opted_out"] == 4 and status == {"ok": 37, "opted_out": 4, "duplicate": 19}
    assert snap.verify().ok
    res, fetched = run[0]
    assert snap.get_results("openverse", "tabby cat") == res
    assert all(snap.get_blob(f.sha256) == f.image for f in fetched if f.status == "ok")


def test_replay_is_identical_offline(recorded):
    path, run, status, base = recorded
    # the servers are gone: nothing can be fetched from the network now
    engine = make_engine("replay", snapshot=str(path), engine="openverse")
    fetcher = SnapshotFetcher(path)
    again = episode(engine, fetcher, base)
    assert again == run  # same results, same statuses, same bytes, same hashes
    assert dict(fetcher.status) == status


def test_replay_refuses_unrecorded_query_naming_it(recorded):
    path, *_ = recorded
    engine = ReplayEngine(path)  # one engine recorded: its name is found
    assert engine.name == "openverse"
    with pytest.raises(SearchError, match="'zebra' was not recorded for engine 'openverse'"):
        engine.search("zebra")
    with pytest.raises(SearchError, match="no answers of engine 'flickr'"):
        ReplayEngine(path, engine="flickr")
    assert len(engine.search("owl", 5)) == 5


def test_fetcher_marks_unrecorded_urls_and_serves_snapshot_urls(recorded):
    path, run, *_ = recorded
    fetcher = SnapshotFetcher(path)
    sha = next(f.sha256 for f in run[0][1] if f.status == "ok")
    got = fetcher.fetch([SearchResult(0, "a", "http://never.test/x.jpg", "", "x"),
                         SearchResult(1, "b", f"snapshot://{sha}", "", "x")])
    assert [f.status for f in got] == ["not_recorded", "ok"] and got[1].sha256 == sha and got[1].image


def test_recording_a_second_run_adds_to_the_histogram(recorded, tmp_path):
    import shutil

    path, _, status, _ = recorded
    copy = tmp_path / "snap"
    shutil.copytree(path, copy)
    snap = Snapshot(copy)
    with Server(image_app) as srv:
        from ie_env.web.download import Downloader

        with Downloader(snapshot=snap, **DL) as d:
            d.fetch([SearchResult(0, "k", srv.url + "/missing.jpg", "", "x")])
    assert snap.get_meta("download_status")["http_4xx"] == status.get("http_4xx", 0) + 1
