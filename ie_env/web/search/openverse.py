"""Openverse (openly licensed images, ``GET /v1/images/?q=``) as a search engine.

Anonymous use needs no key: pages of at most 20 results, at most 20 pages deep, and a modest rate limit. With
an OAuth client (``client_id`` / ``client_secret``, or the environment variables ``OPENVERSE_CLIENT_ID`` /
``OPENVERSE_CLIENT_SECRET``; register one with ``POST /v1/auth_tokens/register/``) the engine first obtains a
client-credentials token and may ask for larger pages. Licence, source and size filters are passed through.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import requests

from ie_env.types import SearchResult
from ie_env.web.http import HttpEngineConfig, as_int, engine_config, engine_json
from ie_env.web.search.base import SearchError

ANONYMOUS_PAGE_SIZE = 20
MAX_PAGES = 20


@dataclass
class OpenverseConfig(HttpEngineConfig):
    """Where and how Openverse is asked."""

    base_url: str = "https://api.openverse.org"
    """API root (tests point it at a local server)."""
    n: int = 20
    """Default number of results per query (pages are fetched until it is reached)."""
    page_size: int = ANONYMOUS_PAGE_SIZE
    """Results per request; anonymous clients get at most 20."""
    license: str = ""
    """Comma-separated licences to keep (``by,by-sa,cc0``...); empty keeps all."""
    license_type: str = ""
    """``commercial`` and/or ``modification`` (comma-separated); empty keeps all."""
    source: str = ""
    """Comma-separated providers (``flickr,wikimedia``...); empty keeps all."""
    extension: str = ""
    """Comma-separated file types (``jpg,png``); empty keeps all."""
    size: str = ""
    """``small``, ``medium`` or ``large``; empty keeps all."""
    aspect_ratio: str = ""
    """``tall``, ``wide`` or ``square``; empty keeps all."""
    mature: bool = False
    """Include results marked mature."""
    use_thumbnail: bool = False
    """Return Openverse's thumbnail URL (small, served by Openverse) instead of the provider's original."""
    client_id: str = ""
    """OAuth client id (default: ``OPENVERSE_CLIENT_ID`` from the environment); empty for anonymous use."""
    client_secret: str = ""
    """OAuth client secret (default: ``OPENVERSE_CLIENT_SECRET``)."""
    min_interval: float = 0.0
    """Seconds to wait between two requests (politeness towards the public API)."""


class OpenverseEngine:
    """Openverse image search. Keyword arguments are :class:`OpenverseConfig` fields."""

    name = "openverse"

    def __init__(self, **options):
        self.config = cfg = engine_config(OpenverseConfig, "openverse", options)
        cfg.client_id = cfg.client_id or os.environ.get("OPENVERSE_CLIENT_ID", "")
        cfg.client_secret = cfg.client_secret or os.environ.get("OPENVERSE_CLIENT_SECRET", "")
        if cfg.n < 1:
            raise SearchError(f"openverse: n={cfg.n}, must be at least 1")
        if not 1 <= cfg.page_size <= (500 if cfg.client_id and cfg.client_secret else ANONYMOUS_PAGE_SIZE):
            raise SearchError(f"openverse: page_size={cfg.page_size}: anonymous clients may ask for 1..20 per page "
                              "(set client_id/client_secret for more)")
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": cfg.user_agent, "Accept": "application/json"})
        self._token = ""
        self._token_expiry = 0.0
        self._last = 0.0
        self._lock = threading.Lock()

    def _call(self, method: str, path: str, **kwargs):
        cfg = self.config
        with self._lock:
            wait = self._last + cfg.min_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()
        return engine_json(self._session, cfg, method, cfg.base_url.rstrip("/") + path, what="openverse", **kwargs)

    def _auth(self) -> dict:
        cfg = self.config
        if not (cfg.client_id and cfg.client_secret):
            return {}
        if time.time() >= self._token_expiry:
            answer = self._call("POST", "/v1/auth_tokens/token/", data={
                "client_id": cfg.client_id, "client_secret": cfg.client_secret, "grant_type": "client_credentials"})
            if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
                raise SearchError("openverse: the token endpoint answered without access_token: check "
                                  "client_id/client_secret")
            self._token = answer["access_token"]
            self._token_expiry = time.time() + float(answer.get("expires_in", 3600)) - 60
        return {"Authorization": f"Bearer {self._token}"}

    def params(self, query: str, page: int, page_size: int | None = None) -> dict:
        """The query string of one page request."""
        cfg = self.config
        p = {"q": query, "page": page, "page_size": page_size or cfg.page_size, "mature": str(cfg.mature).lower()}
        for name in ("license", "license_type", "source", "extension", "size", "aspect_ratio"):
            if getattr(cfg, name):
                p[name] = getattr(cfg, name)
        return p

    def search(self, query: str, n: int | None = None) -> list[SearchResult]:
        n = n or self.config.n
        if not query.strip():
            raise SearchError("openverse: empty query: give a concept name such as 'tabby'")
        results: list[SearchResult] = []
        seen: set[str] = set()
        page, size = 1, min(self.config.page_size, n)
        while len(results) < n and page <= MAX_PAGES:
            answer = self._call("GET", "/v1/images/", params=self.params(query, page, size), headers=self._auth())
            items, page_count = _page(answer)
            for item in items:
                r = self._result(item, len(results))
                if r is not None and r.url not in seen:
                    seen.add(r.url)
                    results.append(r)
                    if len(results) == n:
                        break
            if not items or page >= page_count:
                break
            page += 1
        return results

    def search_batch(self, queries: list[str], n: int | None = None) -> list[list[SearchResult]]:
        return [self.search(q, n) for q in queries]

    def _result(self, item: dict, rank: int) -> SearchResult | None:
        if not isinstance(item, dict):
            raise SearchError(f"openverse: a result is a {type(item).__name__}, not an object: is base_url right?")
        url = item.get("thumbnail") if self.config.use_thumbnail else item.get("url")
        url = url or item.get("url")
        if not isinstance(url, str) or not url:
            return None
        tags = [t.get("name", "") for t in item.get("tags") or [] if isinstance(t, dict)]
        meta = {k: item.get(k) for k in ("id", "foreign_landing_url", "creator", "creator_url", "license_version",
                                         "license_url", "attribution", "provider", "filetype", "filesize",
                                         "thumbnail", "mature") if item.get(k) is not None}
        meta["tags"] = tags
        if url != item.get("url"):
            meta["original_url"] = item.get("url")
        return SearchResult(rank=rank, key=url, url=url, caption=str(item.get("title") or ""),
                            source=f"openverse/{item.get('source') or item.get('provider') or 'unknown'}",
                            license=str(item.get("license") or ""), width=as_int(item.get("width")),
                            height=as_int(item.get("height")), meta=meta)


def _page(answer) -> tuple[list, int]:
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise SearchError("openverse: the answer has no 'results' list: is base_url an Openverse API root?")
    return answer["results"], as_int(answer.get("page_count"), 1)



__all__ = ["OpenverseConfig", "OpenverseEngine"]
