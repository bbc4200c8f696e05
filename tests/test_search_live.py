"""The live search back-ends against local servers speaking each service's real schema."""
from __future__ import annotations

import pytest

from experiments.loopback_web import (
    Server,
    clip_app,
    flickr_app,
    openverse_app,
    wikimedia_app,
)
from ie_env.web.search import ENGINES, SearchEngine, SearchError, make_engine
from ie_env.web.search.clip_retrieval import ClipRetrievalEngine
from ie_env.web.search.flickr import FlickrEngine
from ie_env.web.search.openverse import OpenverseEngine
from ie_env.web.search.wikimedia import WikimediaEngine

IMG = "http://images.test"
SHORT = dict(connect_timeout=1.0, read_timeout=2.0, deadline=4.0, retries=1)


@pytest.fixture(scope="module")
def services():
    servers = {"openverse": Server(openverse_app(IMG)), "clip": Server(clip_app(IMG)),
               "flickr": Server(flickr_app(IMG)), "wikimedia": Server(wikimedia_app(IMG))}
    for s in servers.values():
        s.start()
    yield {k: s.url for k, s in servers.items()}
    for s in servers.values():
        s.stop()


@pytest.fixture(scope="module")
def engines(services):
    return {
        "openverse": OpenverseEngine(base_url=services["openverse"], **SHORT),
        "clip_retrieval": ClipRetrievalEngine(base_url=services["clip"], indice_name="test-index", **SHORT),
        "flickr": FlickrEngine(base_url=services["flickr"] + "/services/rest/", api_key="key-abc", **SHORT),
        "wikimedia": WikimediaEngine(base_url=services["wikimedia"] + "/w/api.php", **SHORT),
    }


def test_registry_names_match_modules(services):
    for name in ("openverse", "clip_retrieval", "flickr", "wikimedia"):
        engine = make_engine(name, **({"api_key": "k"} if name == "flickr" else {}))
        assert engine.name == name and isinstance(engine, SearchEngine)
        assert ENGINES[name].endswith(type(engine).__name__)


@pytest.mark.parametrize("name,n", [("openverse", 45), ("openverse", 7), ("clip_retrieval", 30), ("flickr", 130),
                                    ("flickr", 12), ("wikimedia", 50)])
def test_results_parsed_ranked_and_paginated(engines, name, n):
    res = engines[name].search("tabby cat", n)
    assert len(res) == n
    assert [r.rank for r in res] == list(range(n))
    assert len({r.url for r in res}) == n
    for r in res:
        assert r.url.startswith(IMG + "/img/tabby_cat/") and r.key == r.url
        assert r.caption.startswith("tabby cat photo")
        if name != "clip_retrieval":  # the knn-service schema has no sizes
            assert (r.width, r.height) == (96, 80)


def test_openverse_fields(engines):
    r = engines["openverse"].search("dog", 3)[1]
    assert r.source == "openverse/flickr" and r.license == "by"
    assert r.meta["license_version"] == "2.0" and r.meta["tags"] == ["dog"]
    assert r.meta["foreign_landing_url"].endswith("/1") and "attribution" in r.meta


def test_openverse_pages_stop_at_page_count(services):
    server_engine = OpenverseEngine(base_url=services["openverse"], **SHORT)
    assert len(server_engine.search("few", 200)) == 45  # 3 pages of 20, then page_count says stop


def test_openverse_filters_and_oauth_token(services):
    eng = OpenverseEngine(base_url=services["openverse"], license="cc0,by", client_id="me", client_secret="secret",
                          page_size=50, **SHORT)
    assert eng.params("x", 2)["license"] == "cc0,by"
    res = eng.search("owl", 45)
    assert len(res) == 45 and res[0].license == "cc0"
    with pytest.raises(SearchError, match="page_size"):
        OpenverseEngine(page_size=50)
    bad = OpenverseEngine(base_url=services["openverse"], client_id="me", client_secret="wrong", **SHORT)
    with pytest.raises(SearchError, match="HTTP 401"):
        bad.search("owl")


def test_clip_retrieval_request_and_fields(engines):
    eng = engines["clip_retrieval"]
    body = eng.request_body("owl", 10)
    assert body["text"] == "owl" and body["num_images"] == 10 and body["indice_name"] == "test-index"
    assert body["modality"] == "image" and body["deduplicate"] is True
    r = eng.search("owl", 5)[2]
    assert r.meta["id"] == 1002 and r.meta["similarity"] == pytest.approx(0.898)
    assert r.source == "clip_retrieval/test-index"
    batch = eng.search_batch(["a", "b", "c"], 4)
    assert [len(b) for b in batch] == [4, 4, 4] and batch[1][0].url.endswith("/img/b/0.jpg")


def test_flickr_licences_and_key(engines, services, monkeypatch):
    res = engines["flickr"].search("owl", 5)
    assert [r.license for r in res] == ["by", "by-sa", "cc0", "pdm", "by-nc-sa"]
    assert res[0].meta["owner"] == "12345@N00" and res[0].width == 96
    monkeypatch.delenv("FLICKR_API_KEY", raising=False)
    with pytest.raises(SearchError, match="FLICKR_API_KEY"):
        FlickrEngine()
    monkeypatch.setenv("FLICKR_API_KEY", "wrong")
    with pytest.raises(SearchError, match="Invalid API Key"):
        FlickrEngine(base_url=services["flickr"] + "/services/rest/", **SHORT).search("owl")


def test_wikimedia_order_licence_and_svg_skipped(engines):
    res = engines["wikimedia"].search("owl", 20)
    numbers = [int(r.url.rsplit("/", 1)[1].split(".")[0]) for r in res]
    assert numbers == [i for i in range(22) if i % 10 != 9][:20]  # search order, SVGs dropped, continue followed
    assert res[0].license == "CC BY-SA 4.0" and res[0].meta["artist"] == "X & Y"
    assert res[0].caption == "owl photo 0" and res[0].meta["original_url"].endswith("/full/0.jpg")


@pytest.mark.parametrize("name", ["openverse", "clip_retrieval", "flickr", "wikimedia"])
@pytest.mark.parametrize("query,message", [("__malformed__", "malformed JSON"), ("__huge__", "too large"),
                                           ("__500__", "HTTP 500"), ("__html__", "malformed JSON"),
                                           ("  ", "empty query")])
def test_bad_answers_raise_one_line_search_error(services, name, query, message):
    base = {"openverse": services["openverse"], "clip_retrieval": services["clip"],
            "flickr": services["flickr"] + "/services/rest/", "wikimedia": services["wikimedia"] + "/w/api.php"}[name]
    extra = {"api_key": "key-abc"} if name == "flickr" else {}
    eng = make_engine(name, base_url=base, max_bytes=1_000_000, connect_timeout=1.0, read_timeout=2.0, deadline=4.0,
                      retries=1, **extra)
    with pytest.raises(SearchError, match=message) as e:
        eng.search(query, 5)
    assert "\n" not in str(e.value) and len(str(e.value)) < 300
    assert "key-abc" not in str(e.value)  # no secret in messages


def test_unreachable_service_and_unknown_option():
    with pytest.raises(SearchError, match="cannot reach"):
        OpenverseEngine(base_url="http://127.0.0.1:9", connect_timeout=0.5, retries=0).search("owl")
    with pytest.raises(SearchError, match="valid options"):
        make_engine("wikimedia", colour="red")


def test_rate_limited_service_is_retried_honouring_retry_after():
    calls = []

    def app(h):
        calls.append(h.route)
        if len(calls) <= 2:
            return h.send(429, b"slow down", "text/plain", {"Retry-After": "0"})
        return clip_app(IMG)(h)

    with Server(app) as s:
        res = ClipRetrievalEngine(base_url=s.url, retries=2, **{k: v for k, v in SHORT.items() if k != "retries"}).search("owl", 3)
    assert len(res) == 3 and len(calls) == 3
