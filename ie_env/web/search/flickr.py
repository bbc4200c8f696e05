"""Flickr ``flickr.photos.search`` as a search engine (needs an API key: ``FLICKR_API_KEY``).

Get a key at https://www.flickr.com/services/apps/create/ and ``export FLICKR_API_KEY=...``. By default only
openly licensed photos are asked for (Creative Commons, public domain and "no known copyright restrictions");
licence ids are mapped to names (``by``, ``by-sa``, ``cc0``...).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import requests

from ie_env.types import SearchResult
from ie_env.web.http import HttpEngineConfig, as_int, engine_config, engine_json
from ie_env.web.search.base import SearchError

LICENSES = {0: "all-rights-reserved", 1: "by-nc-sa", 2: "by-nc", 3: "by-nc-nd", 4: "by", 5: "by-sa", 6: "by-nd",
            7: "no-known-copyright", 8: "us-government-work", 9: "cc0", 10: "pdm"}
"""Flickr licence id -> licence name."""

OPEN_LICENSES = "1,2,3,4,5,6,7,8,9,10"


@dataclass
class FlickrConfig(HttpEngineConfig):
    """Where and how Flickr is asked."""

    api_key: str = ""
    """Flickr API key (default: ``FLICKR_API_KEY`` from the environment)."""
    base_url: str = "https://api.flickr.com/services/rest/"
    """REST endpoint (tests point it at a local server)."""
    n: int = 100
    """Default number of results per query (pages are fetched until it is reached)."""
    per_page: int = 100
    """Results per request (Flickr allows up to 500)."""
    max_pages: int = 10
    """Pages fetched at most per query."""
    license: str = OPEN_LICENSES
    """Comma-separated licence ids to keep (see :data:`LICENSES`); empty keeps all, including all-rights-reserved."""
    sort: str = "relevance"
    """Flickr sort order (``relevance``, ``interestingness-desc``, ``date-posted-desc``...)."""
    safe_search: int = 1
    """1 safe, 2 moderate, 3 restricted."""
    content_type: int = 1
    """1 photos only, 7 all."""
    size_extra: str = "url_m"
    """Which image size to return (``url_m`` ~500 px, ``url_q`` 150 px square, ``url_z`` 640 px...)."""


class FlickrEngine:
    """Flickr photo search. Keyword arguments are :class:`FlickrConfig` fields."""

    name = "flickr"

    def __init__(self, **options):
        self.config = cfg = engine_config(FlickrConfig, "flickr", options)
        cfg.api_key = cfg.api_key or os.environ.get("FLICKR_API_KEY", "")
        if not cfg.api_key:
            raise SearchError("flickr: no API key: export FLICKR_API_KEY=... (get one at "
                              "https://www.flickr.com/services/apps/create/) or pass api_key=")
        if cfg.n < 1 or not 1 <= cfg.per_page <= 500 or cfg.max_pages < 1:
            raise SearchError(f"flickr: n={cfg.n}, per_page={cfg.per_page}, max_pages={cfg.max_pages}: "
                              "need n >= 1, per_page in 1..500, max_pages >= 1")
        if not cfg.size_extra.startswith("url_"):
            raise SearchError(f"flickr: size_extra={cfg.size_extra!r}: give a url_* extra such as url_m")
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": cfg.user_agent})

    def params(self, query: str, page: int, per_page: int) -> dict:
        """The query string of one page request."""
        cfg = self.config
        p = {"method": "flickr.photos.search", "api_key": cfg.api_key, "text": query, "format": "json",
             "nojsoncallback": 1, "extras": f"license,owner_name,{cfg.size_extra}", "per_page": per_page,
             "page": page, "sort": cfg.sort, "safe_search": cfg.safe_search, "content_type": cfg.content_type,
             "media": "photos"}
        if cfg.license:
            p["license"] = cfg.license
        return p

    def search(self, query: str, n: int | None = None) -> list[SearchResult]:
        cfg = self.config
        n = n or cfg.n
        if not query.strip():
            raise SearchError("flickr: empty query: give a concept name such as 'tabby'")
        per_page = min(cfg.per_page, n)
        results: list[SearchResult] = []
        seen: set[str] = set()
        for page in range(1, cfg.max_pages + 1):
            answer = engine_json(self._session, cfg, "GET", cfg.base_url, what="flickr",
                                 params=self.params(query, page, per_page))
            photos, pages = self._photos(answer)
            for photo in photos:
                r = self._result(photo, len(results))
                if r is not None and r.url not in seen:
                    seen.add(r.url)
                    results.append(r)
                    if len(results) == n:
                        return results
            if not photos or page >= pages:
                break
        return results

    def search_batch(self, queries: list[str], n: int | None = None) -> list[list[SearchResult]]:
        return [self.search(q, n) for q in queries]

    @staticmethod
    def _photos(answer) -> tuple[list, int]:
        if not isinstance(answer, dict):
            raise SearchError("flickr: the answer is not a JSON object: is base_url the Flickr REST endpoint?")
        if answer.get("stat") != "ok":
            raise SearchError(f"flickr: error {answer.get('code', '?')}: {answer.get('message', 'no message')} "
                              "(check FLICKR_API_KEY)")
        photos = answer.get("photos")
        if not isinstance(photos, dict) or not isinstance(photos.get("photo"), list):
            raise SearchError("flickr: the answer has no photos.photo list")
        return photos["photo"], as_int(photos.get("pages"), 1)

    def _result(self, photo, rank: int) -> SearchResult | None:
        if not isinstance(photo, dict):
            raise SearchError(f"flickr: a photo is a {type(photo).__name__}, not an object")
        suffix = self.config.size_extra[4:]
        url = photo.get(self.config.size_extra)
        if not url and photo.get("server") and photo.get("secret") and photo.get("id"):
            url = f"https://live.staticflickr.com/{photo['server']}/{photo['id']}_{photo['secret']}.jpg"
        if not isinstance(url, str) or not url:
            return None
        lic = as_int(photo.get("license"), -1)
        meta = {k: photo[k] for k in ("id", "owner", "ownername", "secret", "server") if k in photo}
        meta["page_url"] = f"https://www.flickr.com/photos/{photo.get('owner', '')}/{photo.get('id', '')}"
        return SearchResult(rank=rank, key=url, url=url, caption=str(photo.get("title") or ""), source="flickr",
                            license=LICENSES.get(lic, str(photo.get("license", ""))),
                            width=as_int(photo.get(f"width_{suffix}")), height=as_int(photo.get(f"height_{suffix}")),
                            meta=meta)



__all__ = ["FlickrConfig", "FlickrEngine", "LICENSES"]
