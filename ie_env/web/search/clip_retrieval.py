"""A clip-retrieval ``POST /knn-service`` back-end (self-hosted LAION-style indices, or our snapshot server).

The public LAION host is down; point ``base_url`` at your own clip-retrieval back-end, or at
``ie-explore serve --world tinyweb`` (see :mod:`offline_cache.server`), which speaks the same protocol.
Request: ``{text, modality, num_images, indice_name, num_result_ids, deduplicate, use_safety_model,
use_violence_detector, ...}``; answer: a JSON list of ``{url, caption, id, similarity}``.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from ie_env.types import SearchResult
from ie_env.web.http import HttpEngineConfig, as_int, engine_config, engine_json
from ie_env.web.search.base import SearchError


@dataclass
class ClipRetrievalConfig(HttpEngineConfig):
    """Where and how a clip-retrieval back-end is asked."""

    base_url: str = "http://127.0.0.1:1234"
    """Back-end root; the request goes to ``<base_url>/knn-service``."""
    indice_name: str = "laion5B-L-14"
    """Index to search (the back-end's ``indices-list``; our snapshot server accepts its world's name)."""
    n: int = 100
    """Default number of results per query."""
    modality: str = "image"
    """What to return: ``image`` (text-to-image search) or ``text``."""
    num_result_ids: int = 0
    """Neighbours looked up before de-duplication and safety filtering (0: three times the results asked)."""
    deduplicate: bool = True
    """Ask the back-end to drop near-duplicate images."""
    use_safety_model: bool = False
    """Ask the back-end to drop unsafe images."""
    use_violence_detector: bool = False
    """Ask the back-end to drop violent images."""
    use_mclip: bool = False
    """Use the multilingual CLIP text encoder (back-ends that have it)."""
    aesthetic_score: str = ""
    """Aesthetic score to steer towards (``""``: none), as the back-end expects it."""
    aesthetic_weight: str = ""
    """Weight of that steering."""
    threads: int = 4
    """Queries of a batch sent at once."""
    read_timeout: float = 60.0
    """Seconds to wait for bytes of an answer (large indices can take a while)."""
    deadline: float = 120.0
    """Total seconds for one request, retries included."""
    max_bytes: int = 50_000_000
    """Largest answer accepted."""


class ClipRetrievalEngine:
    """Text-to-image search against a clip-retrieval back-end. Keyword arguments are
    :class:`ClipRetrievalConfig` fields."""

    name = "clip_retrieval"

    def __init__(self, **options):
        self.config = cfg = engine_config(ClipRetrievalConfig, "clip_retrieval", options)
        if cfg.n < 1 or cfg.threads < 1:
            raise SearchError(f"clip_retrieval: n={cfg.n}, threads={cfg.threads}: both must be at least 1")
        if cfg.modality not in ("image", "text"):
            raise SearchError(f"clip_retrieval: modality={cfg.modality!r}: choose image or text")
        self._local = threading.local()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            s.headers.update({"User-Agent": self.config.user_agent, "Accept": "application/json"})
        return s

    def request_body(self, query: str, n: int) -> dict:
        """The JSON body of one ``/knn-service`` request."""
        cfg = self.config
        return {"text": query, "image": None, "image_url": None, "embedding_input": None,
                "modality": cfg.modality, "num_images": n, "indice_name": cfg.indice_name,
                "num_result_ids": cfg.num_result_ids or 3 * n, "use_mclip": cfg.use_mclip,
                "deduplicate": cfg.deduplicate, "use_safety_model": cfg.use_safety_model,
                "use_violence_detector": cfg.use_violence_detector, "aesthetic_score": cfg.aesthetic_score,
                "aesthetic_weight": cfg.aesthetic_weight}

    def search(self, query: str, n: int | None = None) -> list[SearchResult]:
        cfg = self.config
        n = n or cfg.n
        if not query.strip():
            raise SearchError("clip_retrieval: empty query: give a concept name such as 'tabby'")
        answer = engine_json(self._session(), cfg, "POST", cfg.base_url.rstrip("/") + "/knn-service",
                             what="clip_retrieval",
                             body=self.request_body(query, n))
        if isinstance(answer, dict) and "error" in answer:
            raise SearchError(f"clip_retrieval: the back-end refused {query!r}: {answer['error']}")
        if not isinstance(answer, list):
            raise SearchError(f"clip_retrieval: the answer is a {type(answer).__name__}, not a list of results: "
                              "is base_url a clip-retrieval back-end?")
        results: list[SearchResult] = []
        for item in answer:
            if not isinstance(item, dict):
                raise SearchError(f"clip_retrieval: a result is a {type(item).__name__}, not an object")
            url = item.get("url")
            if not isinstance(url, str) or not url:
                continue  # the back-end answered with ids only
            extra = {k: v for k, v in item.items() if k not in ("url", "caption", "image", "key", "sha256",
                                                                 "license", "width", "height", "source")}
            results.append(SearchResult(
                rank=len(results), key=str(item.get("key") or url), url=url, caption=str(item.get("caption") or ""),
                source=str(item.get("source") or f"clip_retrieval/{cfg.indice_name}"),
                license=str(item.get("license") or ""), sha256=_sha(item.get("sha256")),
                width=as_int(item.get("width")), height=as_int(item.get("height")), meta=extra))
            if len(results) == n:
                break
        return results

    def search_batch(self, queries: list[str], n: int | None = None) -> list[list[SearchResult]]:
        if len(queries) <= 1 or self.config.threads == 1:
            return [self.search(q, n) for q in queries]
        with ThreadPoolExecutor(min(self.config.threads, len(queries))) as pool:
            return list(pool.map(lambda q: self.search(q, n), queries))


def _sha(value) -> str:
    return value if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value) else ""



__all__ = ["ClipRetrievalConfig", "ClipRetrievalEngine"]
