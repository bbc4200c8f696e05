"""The JSON HTTP client the live engines share, against a real server on 127.0.0.1."""
from __future__ import annotations

import pytest
import requests

from experiments.loopback_web import Server, image_app
from ie_env.web.http import HttpEngineConfig, engine_config, engine_json
from ie_env.web.search.base import SearchError


@pytest.fixture(scope="module")
def server():
    with Server(image_app) as s:
        yield s


def test_malformed_and_oversized_answers_are_one_line_errors(server):
    cfg = HttpEngineConfig(read_timeout=2, deadline=3, retries=0, max_bytes=1000)
    with pytest.raises(SearchError, match="malformed JSON") as err:
        engine_json(requests.Session(), cfg, "GET", f"{server.url}/page.html", what="test")
    assert "\n" not in str(err.value)
    with pytest.raises(SearchError, match="too large"):
        engine_json(requests.Session(), cfg, "GET", f"{server.url}/huge-declared.jpg", what="test")
    with pytest.raises(SearchError, match="HTTP 404"):
        engine_json(requests.Session(), cfg, "GET", f"{server.url}/missing", what="test")


def test_unknown_engine_option_names_the_valid_ones():
    with pytest.raises(SearchError, match="valid options are connect_timeout, read_timeout"):
        engine_config(HttpEngineConfig, "test", {"bogus": 1})
