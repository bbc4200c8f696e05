"""The connection layer: which addresses may be reached, also through redirects."""
from __future__ import annotations

import pytest

import ie_env.web.netsafety as netsafety
from experiments.loopback_web import Server, image_app
from ie_env.types import SearchResult
from ie_env.web.download import Downloader
from ie_env.web.netsafety import is_public_address

FAST = dict(allow_private=False, connect_timeout=2.0, read_timeout=2.0, deadline=2.5, retries=0, image_size=32)


@pytest.fixture(scope="module")
def server():
    with Server(image_app) as s:
        yield s


def results(urls: list[str]) -> list[SearchResult]:
    return [SearchResult(rank=i, key=u, url=u, caption="", source="test") for i, u in enumerate(urls)]


def test_public_address_classification():
    for ip in ("10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "224.0.0.1", "0.0.0.0",
               "100.64.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "ff02::1", "255.255.255.255"):
        assert not is_public_address(ip), ip
    for ip in ("8.8.8.8", "151.101.1.1", "2606:4700:4700::1111"):
        assert is_public_address(ip), ip


def test_hostile_redirect_to_private_address_refused(server, monkeypatch):
    # 127.0.0.1 plays a public host here, 127.0.0.2 a private one: the redirect's target must be checked too.
    monkeypatch.setattr(netsafety, "is_public_address", lambda ip: ip == "127.0.0.1")
    with Downloader(**FAST) as d:
        got = d.fetch(results([f"{server.url}/redirect-private", f"{server.url}/redirect-good"]))
    assert [f.status for f in got] == ["blocked_address", "ok"]
