"""Downloads on Ray workers (ie_env.web.ray_download) give what one Downloader gives: the same outcome for every
result, the same status histogram (every URL counted once) and the same snapshot rows. Starts a local Ray."""
from __future__ import annotations

import sqlite3

import pytest

pytest.importorskip("ray")

from experiments.loopback_web import Server, image_app  # noqa: E402
from ie_env.types import SearchResult  # noqa: E402
from ie_env.web.download import Downloader  # noqa: E402
from ie_env.web.ray_download import RayDownloader, make_downloader  # noqa: E402
from offline_cache.snapshot import DB_NAME, Snapshot  # noqa: E402

OPTIONS = dict(allow_private=True, connect_timeout=2.0, read_timeout=2.0, deadline=2.5, backoff=0.01,
               max_retry_after=0.05, max_bytes=100_000, threads=8, per_host=8, image_size=32)
HOSTILE = ["/missing.jpg", "/page.html", "/html-as-jpeg.jpg", "/noai.jpg", "/storm500.jpg", "/redirect-good",
           "/redirect-loop", "/bomb.png", "/huge-declared.jpg", "/truncated.jpg"]


def batches(base: str) -> list[list[SearchResult]]:
    """Two answers: good images, one image under many URLs, hostile ones, a bad scheme, URLs met twice."""
    first = [f"{base}/good/{i}.jpg" for i in range(24)] + [f"{base}/dup/{i}.jpg" for i in range(8)]
    first += [base + p for p in HOSTILE] + ["file:///etc/passwd", f"{base}/good/3.jpg"]
    second = [f"{base}/good/{i}.jpg" for i in range(20, 40)] + [f"{base}/dup/{i}.jpg" for i in range(6, 12)]
    second += [base + "/missing.jpg", f"{base}/good/77.jpg"]  # /redirect-good served it in the first answer
    return [[SearchResult(rank=i, key=f"k{i}", url=u, caption="", source="test") for i, u in enumerate(urls)]
            for urls in (first, second)]


def rows(path) -> tuple[list, list, str]:
    with sqlite3.connect(path / DB_NAME) as db:
        # (the details of a few failures hold Python object addresses, different in every process)
        return (db.execute("SELECT url, status, sha256 FROM downloads ORDER BY url").fetchall(),
                db.execute("SELECT sha256, data FROM blobs ORDER BY sha256").fetchall(),
                db.execute("SELECT value FROM meta WHERE key = 'download_status'").fetchone()[0])


def test_ray_downloader_equals_one_downloader(tmp_path):
    with Server(image_app) as srv:
        answers = batches(srv.url)
        with Downloader(snapshot=Snapshot(tmp_path / "one", create=True), **OPTIONS) as d:
            one = [d.fetch(a) for a in answers]
        with RayDownloader(snapshot=Snapshot(tmp_path / "ray", create=True), ray="local", workers=2, **OPTIONS) as r:
            two = [r.fetch(a) for a in answers]
            again = make_downloader(ray="local", workers=2, **OPTIONS)  # joins the running instance
            again.load_state_dict(r.state_dict())
            repeated = again.fetch(answers[0])
    outcome = lambda fs: [(f.url, f.key, f.status, f.sha256, f.image, f.width, f.height) for f in fs]  # noqa: E731
    assert [outcome(b) for b in two] == [outcome(b) for b in one]
    assert r.status == d.status and sum(r.status.values()) == sum(len(a) for a in answers)
    print("histogram (1 Downloader = 2 Ray workers):", dict(r.status.most_common()))
    assert {"ok", "duplicate", "http_4xx", "not_image", "opted_out", "http_5xx", "too_many_redirects",
            "decompression_bomb", "too_large", "corrupt", "bad_scheme"} <= set(r.status)
    assert rows(tmp_path / "ray") == rows(tmp_path / "one")
    assert {f.status for f in repeated} <= {"duplicate", *{f.status for f in two[0] if f.status != "ok"}}
    assert all(f.detail == "URL seen before" for f in repeated)


def test_ray_downloads_in_the_live_env_record_what_threads_record(tiny_world, tmp_path):
    from ie_env.data.vocabulary import load_vocabulary
    from ie_env.envs.live_env import InternetExplorerLiveEnv
    from offline_cache.server import SnapshotServer

    v = load_vocabulary()
    concepts = [v.find(q)[0] for q in ("golden retriever", "tabby", "golden retriever", "sports car")]
    common = dict(target="tiny-imagenet:dog.n.01", frozen_encoder="resnet18", budget=4, queries_per_iteration=2,
                  results_per_query=8, reward_targets=100)

    def episode(name: str, **downloader) -> tuple[list, dict]:
        env = InternetExplorerLiveEnv(engine="clip_retrieval", record=str(tmp_path / name),
                                      engine_options={"base_url": server.url, "indice_name": tiny_world.name},
                                      downloader={"allow_private": True, **downloader}, **common)
        env.reset(seed=0)
        steps = [env.step(c) for c in concepts]
        out = [(reward, info["new_images"], tuple(info["keys"])) for _, reward, _, _, info in steps]
        status = dict(env.fetcher.status)
        env.close()
        return out, status

    with SnapshotServer(world=tiny_world) as server:
        threads = episode("threads")
        on_ray = episode("ray", ray="local", workers=2)
    assert on_ray == threads and on_ray[1]["ok"] > 0
    assert rows(tmp_path / "ray") == rows(tmp_path / "threads")
