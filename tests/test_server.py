"""The snapshot server: clip-retrieval /knn-service and /images/<sha256> over tiny snapshots built here."""
from __future__ import annotations

import base64
import inspect
import json

import numpy as np
import pytest
import requests

from experiments.loopback_web import make_image
from ie_env.types import SearchResult
from ie_env.web.download import Downloader
from ie_env.web.search import SearchError
from ie_env.web.search.clip_retrieval import ClipRetrievalEngine
from offline_cache.server import SnapshotServer, serve
from offline_cache.snapshot import Snapshot, sha256_hex

SHORT = dict(connect_timeout=1.0, read_timeout=5.0, deadline=10.0, retries=0)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A recorded snapshot: two queries of a live engine, their downloads and image bytes."""
    path = tmp_path_factory.mktemp("srv") / "snap"
    snap = Snapshot(path, create=True)
    blobs = [make_image(i, (32, 32)) for i in range(4)]
    hashes = [snap.put_blob(b, "image/jpeg", 32, 32) for b in blobs]
    res = [SearchResult(i, f"https://web.test/{i}.jpg", f"https://web.test/{i}.jpg", f"tabby cat {i}", "openverse/flickr",
                        "by", width=500, height=400, meta={"similarity": 0.5 - i / 10}) for i in range(5)]
    snap.put_results("openverse", "tabby cat", res)
    snap.put_results("openverse", "owl", res[3:])
    for i in range(4):
        snap.put_download(res[i].url, "ok", hashes[i])
    snap.put_download(res[4].url, "timeout")
    snap.close()
    with SnapshotServer(snapshot=str(path)) as server:
        yield server, hashes, blobs


def test_clip_retrieval_round_trip_over_recorded_snapshot(recorded):
    server, hashes, blobs = recorded
    engine = ClipRetrievalEngine(base_url=server.url, indice_name="openverse", **SHORT)
    res = engine.search("tabby cat", 10)
    assert [r.sha256 for r in res[:4]] == hashes and res[4].sha256 == ""
    assert res[0].url == f"{server.url}/images/{hashes[0]}" and res[4].url == "https://web.test/4.jpg"
    assert [r.caption for r in res] == [f"tabby cat {i}" for i in range(5)]
    assert res[1].meta["similarity"] == pytest.approx(0.4) and res[1].license == "by"
    assert len(engine.search("owl", 10)) == 2 and len(engine.search("tabby cat", 2)) == 2
    with Downloader(allow_private=True, image_size=0, deadline=5.0) as d:
        got = d.fetch(res[:4])
    assert [f.status for f in got] == ["ok"] * 4 and [(f.width, f.height) for f in got] == [(32, 32)] * 4
    r = requests.get(res[2].url, timeout=5)
    assert r.content == blobs[2] and r.headers["Content-Type"] == "image/jpeg"
    assert sha256_hex(r.content) == hashes[2]


def test_recording_given_as_world_folder_is_served_as_recording(recorded):
    server, hashes, _ = recorded
    path = server.backend.snapshot.path
    with SnapshotServer(world=str(path)) as other:  # `ie-explore serve --world <recording folder>`
        res = ClipRetrievalEngine(base_url=other.url, **SHORT).search("owl", 5)
    assert [r.sha256 for r in res] == [hashes[3], ""]


def test_unrecorded_query_is_a_one_line_search_error(recorded):
    server, *_ = recorded
    with pytest.raises(SearchError, match="'zebra' was not recorded"):
        ClipRetrievalEngine(base_url=server.url, **SHORT).search("zebra")


@pytest.mark.parametrize("path,code", [("/images/../../etc/passwd", 400), ("/images/" + "A" * 64, 400),
                                       ("/images/%2e%2e%2fsnapshot.sqlite", 400), ("/images/" + "0" * 64, 404),
                                       ("/images/" + "0" * 63 + "/x", 400), ("/nothing", 404)])
def test_hostile_image_paths_refused(recorded, path, code):
    import http.client

    server, *_ = recorded
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)  # sends the path as is
    conn.request("GET", path)
    r = conn.getresponse()
    assert r.status == code and "error" in json.loads(r.read())
    conn.close()


@pytest.mark.parametrize("body,code", [(b"not json", 400), (b"[1, 2]", 400), (json.dumps({"text": ""}), 400),
                                       (json.dumps({"image_url": "http://x/y.jpg"}), 400),
                                       (json.dumps({"text": "owl", "modality": "text"}), 400),
                                       (json.dumps({"text": "owl", "num_images": 0}), 400),
                                       (json.dumps({"text": "owl", "num_images": "5"}), 400),
                                       (b"x" * 2_000_000, 413)])
def test_hostile_knn_requests_refused(recorded, body, code):
    server, *_ = recorded
    r = requests.post(server.url + "/knn-service", data=body, timeout=5)
    assert r.status_code == code and "error" in r.json()


def test_index_list_and_description(recorded):
    server, *_ = recorded
    assert requests.post(server.url + "/indices-list", timeout=5).json() == ["openverse"]
    info = requests.get(server.url + "/", timeout=5).json()
    assert info["queries"] == 2 and "POST /knn-service" in info["endpoints"]


def test_world_served_through_its_caption_index(tiny_world):
    """A world (conftest's tiny one): the server answers any text exactly as the caption index ranks it."""
    from offline_cache.caption_engine import CaptionIndexEngine

    expected = CaptionIndexEngine(world=tiny_world).search("tabby cat", 8)
    with SnapshotServer(world=tiny_world) as server:
        res = ClipRetrievalEngine(base_url=server.url, indice_name=tiny_world.name, **SHORT).search("tabby cat", 8)
        assert [r.key for r in res] == [r.key for r in expected]
        assert [r.sha256 for r in res] == [r.sha256 for r in expected]
        assert [r.meta["similarity"] for r in res] == pytest.approx([r.meta["similarity"] for r in expected])
        assert all(r.url == f"{server.url}/images/{r.sha256}" for r in res)
        assert res[0].meta["id"] == tiny_world.index_of[res[0].key]
        assert "wnid" not in res[0].meta  # ground truth stays on the server
        data = requests.get(res[0].url, timeout=5).content
        assert sha256_hex(data) == res[0].sha256


def test_serve_signature_kept_for_the_cli():
    params = inspect.signature(serve).parameters
    assert list(params)[:4] == ["world", "snapshot", "host", "port"]
    assert params["host"].default == "127.0.0.1" and params["port"].default == 0
    with pytest.raises(ValueError, match="exactly one"):
        SnapshotServer()


def _knn(server, **req):
    return requests.post(server.url + "/knn-service", json={"num_images": 5, **req}, timeout=30)


def test_knn_embedding_input_of_caption_dimension_and_clear_400s(tiny_world, recorded):
    from ie_env.data.text_embedding import TextEmbedder

    vector = TextEmbedder()(["tabby cat"])[0].tolist()
    with SnapshotServer(world=tiny_world) as server:
        by_text = _knn(server, text="tabby cat").json()
        by_embedding = _knn(server, embedding_input=vector)
        assert by_embedding.status_code == 200
        assert [h["key"] for h in by_embedding.json()] == [h["key"] for h in by_text]
        assert [h["similarity"] for h in by_embedding.json()] == pytest.approx([h["similarity"] for h in by_text])
        bad = _knn(server, embedding_input=[0.1] * 10)
        assert bad.status_code == 400 and "dimension 10; this server answers 384" in bad.json()["error"]
        no_encoder = _knn(server, image=base64.b64encode(make_image(1)).decode())
        assert no_encoder.status_code == 400 and "--encoder" in no_encoder.json()["error"]
        for req in ({"embedding_input": "0.1,0.2"}, {"embedding_input": [1, None]}, {"text": "a", "image_url": "x"}):
            assert _knn(server, **req).status_code == 400
    server, *_ = recorded
    r = _knn(server, embedding_input=vector)
    assert r.status_code == 400 and "recording" in r.json()["error"]


def test_knn_image_and_image_url_queries_from_the_world_embeddings(tiny_world):
    from ie_env.learning.frozen import get_encoder

    pos = 7
    data = tiny_world.snapshot.get_blob(tiny_world.sha256[pos])
    with SnapshotServer(world=tiny_world, encoder="resnet18", image_size=32, allow_private_urls=True) as server:
        by_image = _knn(server, image=base64.b64encode(data).decode())
        assert by_image.status_code == 200
        hits = by_image.json()
        assert hits[0]["key"] == tiny_world.keys[pos] and hits[0]["id"] == pos
        assert hits[0]["similarity"] == pytest.approx(1.0, abs=1e-3) and len(hits) == 5
        assert hits[0]["url"] == f"{server.url}/images/{tiny_world.sha256[pos]}"
        by_url = _knn(server, image_url=hits[0]["url"]).json()
        assert [h["key"] for h in by_url] == [h["key"] for h in hits]
        row = np.asarray(get_encoder("resnet18", 32).world_embeddings(tiny_world)[pos])
        by_embedding = _knn(server, embedding_input=row.tolist()).json()
        assert by_embedding[0]["key"] == tiny_world.keys[pos]
        for req, message in [({"image": "not base64!"}, "base64"),
                             ({"image": base64.b64encode(b"hello").decode()}, "could not be read"),
                             ({"image_url": server.url + "/images/" + "0" * 64}, "could not be fetched: http_4xx"),
                             ({"embedding_input": [0.5] * 7}, f"or {row.shape[0]} (image embeddings of the resnet18")]:
            r = _knn(server, **req)
            assert r.status_code == 400 and message in r.json()["error"], r.json()
