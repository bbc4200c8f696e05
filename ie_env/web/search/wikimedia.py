"""Wikimedia Commons (``action=query`` with a ``search`` generator and ``prop=imageinfo``) as a search engine.

Searches the File: namespace, returns bitmap files only (JPEG, PNG, GIF, WebP by default) with a thumbnail URL
of ``thumb_width`` pixels (Commons renders it; far lighter than originals), and the licence from
``extmetadata.LicenseShortName``. Wikimedia asks every client for a descriptive User-Agent with contact
details: set the environment variable ``IE_CONTACT`` (``me@example.org``; :func:`ie_env.web.http.user_agent`), or
``user_agent=`` / ``IE_USER_AGENT`` for a whole string of your own (``"my-study/1.0 (me@example.org)"``). Without a
contact the engine warns once.
"""
from __future__ import annotations

import html
import re
import warnings
from dataclasses import dataclass

import requests

from ie_env.types import SearchResult
from ie_env.web.http import CONTACT_ENV, HttpEngineConfig, as_int, engine_config, engine_json
from ie_env.web.search.base import SearchError

BITMAPS = "image/jpeg,image/png,image/gif,image/webp"


@dataclass
class WikimediaConfig(HttpEngineConfig):
    """Where and how Wikimedia Commons is asked."""

    base_url: str = "https://commons.wikimedia.org/w/api.php"
    """The MediaWiki API endpoint (tests point it at a local server)."""
    n: int = 50
    """Default number of results per query (``continue`` pages are followed until it is reached)."""
    batch: int = 50
    """Files per request (``gsrlimit``; at most 50 for anonymous clients)."""
    max_pages: int = 10
    """Requests made at most per query."""
    thumb_width: int = 320
    """Width of the thumbnail URL returned (0: the original file's URL)."""
    mimes: str = BITMAPS
    """Comma-separated MIME types kept (SVG, TIFF, PDF, video and audio files are dropped by default)."""


class WikimediaEngine:
    """Wikimedia Commons file search. Keyword arguments are :class:`WikimediaConfig` fields."""

    name = "wikimedia"

    def __init__(self, **options):
        self.config = cfg = engine_config(WikimediaConfig, "wikimedia", options)
        if cfg.n < 1 or not 1 <= cfg.batch <= 500 or cfg.max_pages < 1 or cfg.thumb_width < 0:
            raise SearchError(f"wikimedia: n={cfg.n}, batch={cfg.batch}, max_pages={cfg.max_pages}, "
                              f"thumb_width={cfg.thumb_width}: need n >= 1, batch 1..500, max_pages >= 1, "
                              "thumb_width >= 0")
        if "no contact given" in cfg.user_agent and "wikimedia.org" in cfg.base_url:
            warnings.warn(f"wikimedia: Wikimedia's User-Agent policy asks for contact details: set {CONTACT_ENV}="
                          "<your email or page> (or ie-explore live --contact)", stacklevel=2)
        self._mimes = {m.strip() for m in cfg.mimes.split(",") if m.strip()}
        self._session = requests.Session()
        self._session.headers.update({"User-Agent": cfg.user_agent, "Api-User-Agent": cfg.user_agent})

    def params(self, query: str, batch: int) -> dict:
        """The query string of the first request (``continue`` values are added for the next ones)."""
        p = {"action": "query", "format": "json", "formatversion": 2, "generator": "search",
             "gsrsearch": query, "gsrnamespace": 6, "gsrlimit": batch, "prop": "imageinfo",
             "iiprop": "url|size|mime|extmetadata",
             "iiextmetadatafilter": "LicenseShortName|LicenseUrl|Artist|ImageDescription|ObjectName"}
        if self.config.thumb_width:
            p["iiurlwidth"] = self.config.thumb_width
        return p

    def search(self, query: str, n: int | None = None) -> list[SearchResult]:
        cfg = self.config
        n = n or cfg.n
        if not query.strip():
            raise SearchError("wikimedia: empty query: give a concept name such as 'tabby'")
        params = self.params(query, min(cfg.batch, n))
        results: list[SearchResult] = []
        seen: set[str] = set()
        for _ in range(cfg.max_pages):
            answer = engine_json(self._session, cfg, "GET", cfg.base_url, what="wikimedia", params=params)
            pages, more = _pages(answer)
            for page in pages:
                r = self._result(page, len(results))
                if r is not None and r.url not in seen:
                    seen.add(r.url)
                    results.append(r)
                    if len(results) == n:
                        return results
            if not more:
                break
            params = {**params, **more}
        return results

    def search_batch(self, queries: list[str], n: int | None = None) -> list[list[SearchResult]]:
        return [self.search(q, n) for q in queries]

    def _result(self, page: dict, rank: int) -> SearchResult | None:
        infos = page.get("imageinfo")
        if not isinstance(infos, list) or not infos or not isinstance(infos[0], dict):
            return None
        info = infos[0]
        if self._mimes and info.get("mime") not in self._mimes:
            return None
        url = info.get("thumburl") or info.get("url")
        if not isinstance(url, str) or not url:
            return None
        ext = info.get("extmetadata") if isinstance(info.get("extmetadata"), dict) else {}
        field = lambda name: _text(ext.get(name, {}).get("value", "") if isinstance(ext.get(name), dict) else "")  # noqa: E731
        title = str(page.get("title", ""))
        caption = field("ObjectName") or re.sub(r"\.[A-Za-z0-9]{2,5}$", "", title.split(":", 1)[-1])
        meta = {"title": title, "pageid": page.get("pageid"), "original_url": info.get("url"),
                "description_url": info.get("descriptionurl"), "mime": info.get("mime"),
                "license_url": field("LicenseUrl"), "artist": field("Artist"),
                "description": field("ImageDescription")}
        width, height = (info.get("thumbwidth"), info.get("thumbheight")) if info.get("thumburl") else \
            (info.get("width"), info.get("height"))
        return SearchResult(rank=rank, key=url, url=url, caption=caption, source="wikimedia",
                            license=field("LicenseShortName"), width=as_int(width), height=as_int(height),
                            meta={k: v for k, v in meta.items() if v not in (None, "")})


def _pages(answer) -> tuple[list[dict], dict]:
    """The answer's pages in search order, and its ``continue`` values (empty on the last page)."""
    if not isinstance(answer, dict):
        raise SearchError("wikimedia: the answer is not a JSON object: is base_url a MediaWiki api.php?")
    if "error" in answer:
        err = answer["error"] if isinstance(answer["error"], dict) else {"info": answer["error"]}
        raise SearchError(f"wikimedia: API error {err.get('code', '?')}: {err.get('info', '')}")
    query = answer.get("query", {})
    if not isinstance(query, dict):
        raise SearchError("wikimedia: 'query' is not an object")
    pages = query.get("pages", [])
    if isinstance(pages, dict):  # formatversion=1: keyed by page id
        pages = list(pages.values())
    if not isinstance(pages, list):
        raise SearchError("wikimedia: 'query.pages' is neither a list nor an object")
    pages = [p for p in pages if isinstance(p, dict)]
    pages.sort(key=lambda p: as_int(p.get("index"), 1 << 30))
    more = answer.get("continue")
    return pages, more if isinstance(more, dict) else {}


def _text(value) -> str:
    """Plain one-line text of an extmetadata value (which may hold HTML)."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", str(value))).split())



__all__ = ["WikimediaConfig", "WikimediaEngine"]
