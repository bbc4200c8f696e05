"""Serving a snapshot over HTTP: a clip-retrieval compatible ``/knn-service`` plus the image bytes.

A self-hosted text-to-image engine any clip-retrieval client can be pointed at
(:class:`ie_env.web.search.clip_retrieval.ClipRetrievalEngine` included), and the server the live tests use.

Endpoints:

- ``POST /knn-service``: request ``{"text": ... | "image": <base64> | "image_url": ... | "embedding_input": [...],
  "modality": "image", "num_images": n, "indice_name": ...}`` (one query kind); answer a JSON list of ``{url,
  caption, id, similarity}`` (plus ``key``, ``sha256``, ``source``, ``license``, ``width``, ``height``, which
  clip-retrieval clients ignore). A world (tinyweb) answers any text through its
  :class:`~offline_cache.caption_engine.CaptionIndexEngine`, and an ``embedding_input`` of the captions'
  dimension (384, MiniLM) by the nearest captions; served with an image ``encoder``, it also answers an ``image``,
  an ``image_url`` (fetched by the safe :class:`~ie_env.web.download.Downloader`) or an ``embedding_input`` of
  that encoder's dimension from the encoder's embeddings of every world image
  (:class:`~offline_cache.image_index.ImageEmbeddingIndex`). A recorded snapshot answers the text queries it
  recorded (404 for others), ``indice_name`` choosing the engine when it recorded several. Any other query is a
  400 that says what this server answers.
- ``POST /indices-list``: the index names (the world's name, or the recorded engines).
- ``GET /images/<sha256>``: the stored bytes (64 lowercase hex digits, nothing else is accepted).
- ``GET /``: a short JSON description.

``ie-explore serve --world tinyweb --port P`` calls :func:`serve`; ``python -m offline_cache.server`` does too.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import json
import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ie_env.data.images import image_format
from ie_env.types import SearchResult
from ie_env.web.download import Downloader
from offline_cache.caption_engine import CaptionIndexEngine
from offline_cache.image_index import ImageEmbeddingIndex
from offline_cache.replay import open_snapshot
from offline_cache.tinyweb import open_world
from offline_cache.world import World

SHA256 = re.compile(r"[0-9a-f]{64}")
HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
MAX_BODY = 1_000_000
MAX_TEXT = 1000
MAX_DIM = 8192
QUERY_KINDS = ("text", "image", "image_url", "embedding_input")


class QueryError(ValueError):
    """A query this server cannot answer (HTTP 400, with the message)."""


class _World:
    """A world's catalogue searched by its caption index (and by image embedding, given an encoder)."""

    def __init__(self, world, encoder: str = "", image_size: int = 64):
        self.world = world if isinstance(world, World) else open_world(str(world))
        self.snapshot = self.world.snapshot
        self.names = [self.world.name]
        self._engine = CaptionIndexEngine(world=self.world)
        self.images = ImageEmbeddingIndex(self.world, encoder, image_size) if encoder else None
        self._lock = threading.Lock()

    def answer(self, text: str, n: int, indice: str) -> list[tuple[int, SearchResult]]:
        with self._lock:
            results = self._engine.search(text, n)
        return [(self.world.index_of.get(r.key, r.rank), r) for r in results]

    def check_image_queries(self) -> None:
        if self.images is None:
            raise QueryError("this server answers no image queries: serve the world with an image encoder "
                             "(ie-explore serve --encoder resnet18 | efficientnet_lite0)")

    def answer_embedding(self, vector: list[float], n: int) -> list[tuple[int, SearchResult]]:
        dims = {self._engine.dim: "caption text embeddings (MiniLM)"}
        if self.images is not None:
            dims.setdefault(self.images.dim, f"image embeddings of the {self.images.name} encoder")
        if len(vector) not in dims:
            raise QueryError(f"embedding_input has dimension {len(vector)}; this server answers " +
                             " or ".join(f"{d} ({what})" for d, what in dims.items()))
        if len(vector) == self._engine.dim:
            with self._lock:
                results = self._engine.search_embedding(vector, n)
            return [(self.world.index_of.get(r.key, r.rank), r) for r in results]
        return self._images(self.images.search(vector, n))

    def answer_image(self, data: bytes, n: int) -> list[tuple[int, SearchResult]]:
        self.check_image_queries()
        with self._lock:
            vector = self.images.embed_image(data)
        return self._images(self.images.search(vector, n))

    def _images(self, hits: list[tuple[int, float]]) -> list[tuple[int, SearchResult]]:
        out = []
        for rank, (pos, sim) in enumerate(hits):
            r = self.world.rows[pos]
            out.append((pos, SearchResult(rank, r.key, r.url, r.caption, r.source, r.license, r.sha256, r.width,
                                          r.height, {"similarity": sim})))
        return out

    def describe(self) -> dict:
        return {"world": self.world.name, "images": len(self.world),
                "image_encoder": self.images.name if self.images is not None else ""}


class _Recorded:
    """A recorded snapshot: the answers it holds, with the images it downloaded."""

    def __init__(self, snapshot):
        self.snapshot = open_snapshot(snapshot)
        self.names = sorted({e for e, _ in self.snapshot.recorded_queries()})

    def answer(self, text: str, n: int, indice: str) -> list[tuple[int, SearchResult]]:
        engine = indice if indice in self.names else self.names[0] if len(self.names) == 1 else None
        if engine is None:
            raise LookupError(f"indice_name {indice!r} is not one of the recorded engines {self.names}")
        results = self.snapshot.get_results(engine, text)
        if results is None:
            raise LookupError(f"query {text!r} was not recorded for engine {engine!r}")
        out = []
        for r in results[:n]:
            status, sha = self.snapshot.get_download(r.url) or ("", r.sha256)
            if sha and status in ("", "ok", "duplicate"):
                r = SearchResult(r.rank, r.key, r.url, r.caption, r.source, r.license, sha, r.width, r.height, r.meta)
            out.append((r.rank, r))
        return out

    def check_image_queries(self) -> None:
        raise QueryError("this snapshot is a recording: it answers only the text queries it recorded")

    def answer_embedding(self, vector: list[float], n: int) -> list[tuple[int, SearchResult]]:
        self.check_image_queries()

    def answer_image(self, data: bytes, n: int) -> list[tuple[int, SearchResult]]:
        self.check_image_queries()

    def describe(self) -> dict:
        return {"snapshot": str(self.snapshot.path), "engines": self.names,
                "queries": len(self.snapshot.recorded_queries())}


def _handler(backend, max_results: int, verbose: bool, allow_private: bool):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "internet-explorer-snapshot/1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

        def log_message(self, fmt, *args):  # noqa: D401 (quiet unless asked)
            if verbose:
                super().log_message(fmt, *args)

        def _send(self, code: int, body: bytes, ctype: str = "application/json", extra: dict | None = None):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, code: int, obj) -> None:
            self._send(code, json.dumps(obj).encode())

        def _error(self, code: int, message: str) -> None:
            self._json(code, {"error": message})

        def _base(self) -> str:
            host = self.headers.get("Host", "")
            if not HOST.fullmatch(host):
                host = "%s:%d" % self.server.server_address[:2]
            return f"http://{host}"

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path.startswith("/images/"):
                sha = path[len("/images/"):]
                if not SHA256.fullmatch(sha):
                    return self._error(400, "an image path is /images/<sha256>: 64 lowercase hex digits")
                try:
                    data = backend.snapshot.get_blob(sha)
                except KeyError:
                    return self._error(404, f"no image {sha}")
                return self._send(200, data, f"image/{image_format(data)}", {"ETag": f'"{sha}"',
                                                     "Cache-Control": "public, max-age=31536000, immutable"})
            if path == "/":
                return self._json(200, {**backend.describe(), "indices": backend.names,
                                        "endpoints": ["POST /knn-service", "POST /indices-list",
                                                      "GET /images/<sha256>"]})
            if path == "/indices-list":
                return self._json(200, backend.names)
            return self._error(404, f"no such path {path!r}: use POST /knn-service or GET /images/<sha256>")

        do_HEAD = do_GET

        def do_POST(self):
            path = self.path.split("?", 1)[0]
            length = self.headers.get("Content-Length", "")
            if not length.isdigit():
                return self._error(411, "send a Content-Length")
            if int(length) > MAX_BODY:
                self.close_connection = True
                return self._error(413, f"request body over {MAX_BODY} bytes")
            raw = self.rfile.read(int(length))
            if path == "/indices-list":
                return self._json(200, backend.names)
            if path != "/knn-service":
                return self._error(404, f"no such path {path!r}: use POST /knn-service")
            try:
                req = json.loads(raw)
            except ValueError:
                return self._error(400, "the body is not JSON")
            if not isinstance(req, dict):
                return self._error(400, "the body must be a JSON object such as {\"text\": \"tabby cat\"}")
            kinds = [k for k in QUERY_KINDS if req.get(k) not in (None, "")]
            if len(kinds) > 1:
                return self._error(400, f"give one query kind, not {' and '.join(kinds)}")
            modality = req.get("modality", "image")
            if modality != "image":
                return self._error(400, f"modality {modality!r} is not supported: use \"image\"")
            n = req.get("num_images", 40)
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= max_results:
                return self._error(400, f"num_images must be an integer in 1..{max_results}")
            try:
                hits = self._answer(kinds[0] if kinds else "text", req, n)
            except QueryError as e:
                return self._error(400, str(e))
            except LookupError as e:
                return self._error(404, str(e.args[0]))
            base = self._base()
            out = []
            for ident, r in hits:
                url = f"{base}/images/{r.sha256}" if r.sha256 else r.url
                out.append({"url": url, "caption": r.caption, "id": int(ident),
                            "similarity": float(r.meta.get("similarity", 0.0)), "key": r.key, "sha256": r.sha256,
                            "source": r.source, "license": r.license, "width": r.width, "height": r.height})
            return self._json(200, out)

        def _answer(self, kind: str, req: dict, n: int) -> list[tuple[int, SearchResult]]:
            value = req.get(kind)
            if kind == "text":
                if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
                    raise QueryError(f"'text' must be a non-empty string of at most {MAX_TEXT} characters")
                return backend.answer(value, n, str(req.get("indice_name") or ""))
            if kind == "embedding_input":
                if not (isinstance(value, list) and 0 < len(value) <= MAX_DIM and all(
                        isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value)):
                    raise QueryError(f"'embedding_input' must be a list of at most {MAX_DIM} finite numbers")
                return backend.answer_embedding(value, n)
            backend.check_image_queries()
            if kind == "image":
                try:
                    data = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
                except (binascii.Error, ValueError):
                    data = b""
                if not data:
                    raise QueryError("'image' must be the base64 text of an image file")
                try:
                    return backend.answer_image(data, n)
                except ValueError as e:
                    raise QueryError(str(e)) from None
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise QueryError(f"'image_url' must be a URL of at most {MAX_TEXT} characters")
            with Downloader(image_size=0, threads=1, retries=0, deadline=10.0, allow_private=allow_private) as d:
                got = d.fetch([SearchResult(0, "image_url", value, "", "")])[0]
            if got.status != "ok":
                raise QueryError(f"image_url could not be fetched: {got.status}" +
                                 (f" ({got.detail})" if got.detail else ""))
            try:
                return backend.answer_image(got.image, n)
            except ValueError as e:
                raise QueryError(str(e)) from None

    return Handler


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 drops connections a parallel client opens at once
    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # clients hanging up are normal
            super().handle_error(request, client_address)


class SnapshotServer:
    """The HTTP server over a world or a recorded snapshot (give one of them).

    Args:
        world: a world name (``tinyweb``), folder, or opened :class:`offline_cache.tinyweb.World`; a folder
            holding a recorded snapshot instead of a world is served as a recording.
        snapshot: a snapshot folder (a world folder is served as a world, anything else as a recording).
        host, port: where to listen (port 0: any free port; see :attr:`port`).
        max_results: the largest ``num_images`` accepted.
        verbose: log every request to stderr.
        encoder: a frozen image encoder (``resnet18``, ``efficientnet_lite0``, ...) whose embeddings of every world
            image answer image queries ("" = text and caption-embedding queries only); computed once, cached.
        image_size: the side images are brought to before that encoder embeds them.
        allow_private_urls: fetch an ``image_url`` on a private or loopback address (tests, closed networks).
    """

    def __init__(self, world=None, snapshot: str | Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 max_results: int = 10_000, verbose: bool = False, encoder: str = "", image_size: int = 64,
                 allow_private_urls: bool = False):
        if (world is None) == (snapshot is None):
            raise ValueError("give exactly one of world= (e.g. 'tinyweb') and snapshot= (a snapshot folder)")
        if snapshot is not None and (Path(snapshot) / "captions.npy").exists():
            world, snapshot = str(snapshot), None  # a world folder: search its captions
        elif isinstance(world, (str, Path)) and Path(world).is_dir() and not (Path(world) / "captions.npy").exists():
            world, snapshot = None, str(world)  # a recording given as --world: answer what it recorded
        if snapshot is not None and encoder:
            raise ValueError("an image encoder serves a world's images: a recorded snapshot answers its text queries")
        self.backend = _World(world, encoder, image_size) if world is not None else _Recorded(snapshot)
        self.httpd = _HTTPServer((host, port), _handler(self.backend, max_results, verbose, allow_private_urls))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{'[%s]' % host if ':' in host else host}:{self.port}"

    def start(self) -> SnapshotServer:
        """Serve from a background thread (returns at once)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="snapshot-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> SnapshotServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(world: str | None = None, snapshot: str | None = None, host: str = "127.0.0.1", port: int = 0,
          max_results: int = 10_000, verbose: bool = False, encoder: str = "", image_size: int = 64) -> None:
    """Serve a world or snapshot until Ctrl-C (prints the address first)."""
    server = SnapshotServer(world=world, snapshot=snapshot, host=host, port=port, max_results=max_results,
                            verbose=verbose, encoder=encoder, image_size=image_size)
    print(f"serving {', '.join(server.backend.names) or 'an empty snapshot'} at {server.url} "
          f"(POST {server.url}/knn-service, GET {server.url}/images/<sha256>); Ctrl-C stops", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m offline_cache.server", description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--world", help="world name or folder (e.g. tinyweb)")
    src.add_argument("--snapshot", help="snapshot folder")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--encoder", default="", help="image encoder answering image queries (resnet18, efficientnet_lite0)")
    p.add_argument("--image-size", type=int, default=64, help="image side the encoder sees")
    a = p.parse_args(argv)
    serve(world=a.world, snapshot=a.snapshot, host=a.host, port=a.port, verbose=a.verbose, encoder=a.encoder,
          image_size=a.image_size)


if __name__ == "__main__":
    main()
