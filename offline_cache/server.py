"""Serving a snapshot over HTTP: a clip-retrieval compatible ``/knn-service`` plus the image bytes.

A self-hosted text-to-image engine any clip-retrieval client can be pointed at
(:class:`ie_env.web.search.clip_retrieval.ClipRetrievalEngine` included), and the server the live tests use.

Endpoints:

- ``POST /knn-service``: request ``{"text": ..., "modality": "image", "num_images": n, "indice_name": ...}``;
  answer a JSON list of ``{url, caption, id, similarity}`` (plus ``key``, ``sha256``, ``source``, ``license``,
  ``width``, ``height``, which clip-retrieval clients ignore). A world (tinyweb) answers any text through its
  :class:`~offline_cache.caption_engine.CaptionIndexEngine`; a recorded snapshot answers the queries it
  recorded (404 for others), ``indice_name`` choosing the engine when it recorded several.
- ``POST /indices-list``: the index names (the world's name, or the recorded engines).
- ``GET /images/<sha256>``: the stored bytes (64 lowercase hex digits, nothing else is accepted).
- ``GET /``: a short JSON description.

``ie-explore serve --world tinyweb --port P`` calls :func:`serve`; ``python -m offline_cache.server`` does too.
"""
from __future__ import annotations

import argparse
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ie_env.data.images import image_format
from ie_env.types import SearchResult
from offline_cache.caption_engine import CaptionIndexEngine
from offline_cache.replay import open_snapshot
from offline_cache.tinyweb import open_world
from offline_cache.world import World

SHA256 = re.compile(r"[0-9a-f]{64}")
HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
MAX_BODY = 1_000_000
MAX_TEXT = 1000


class _World:
    """A world's catalogue searched by its caption index."""

    def __init__(self, world):
        self.world = world if isinstance(world, World) else open_world(str(world))
        self.snapshot = self.world.snapshot
        self.names = [self.world.name]
        self._engine = CaptionIndexEngine(world=self.world)
        self._lock = threading.Lock()

    def answer(self, text: str, n: int, indice: str) -> list[tuple[int, SearchResult]]:
        with self._lock:
            results = self._engine.search(text, n)
        return [(self.world.index_of.get(r.key, r.rank), r) for r in results]

    def describe(self) -> dict:
        return {"world": self.world.name, "images": len(self.world)}


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

    def describe(self) -> dict:
        return {"snapshot": str(self.snapshot.path), "engines": self.names,
                "queries": len(self.snapshot.recorded_queries())}


def _handler(backend, max_results: int, verbose: bool):
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
            if any(req.get(k) for k in ("image", "image_url", "embedding_input")):
                return self._error(400, "only text queries are supported: send {\"text\": ...}")
            text, modality = req.get("text"), req.get("modality", "image")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
                return self._error(400, f"'text' must be a non-empty string of at most {MAX_TEXT} characters")
            if modality != "image":
                return self._error(400, f"modality {modality!r} is not supported: use \"image\"")
            n = req.get("num_images", 40)
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= max_results:
                return self._error(400, f"num_images must be an integer in 1..{max_results}")
            try:
                hits = backend.answer(text, n, str(req.get("indice_name") or ""))
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
    """

    def __init__(self, world=None, snapshot: str | Path | None = None, host: str = "127.0.0.1", port: int = 0,
                 max_results: int = 10_000, verbose: bool = False):
        if (world is None) == (snapshot is None):
            raise ValueError("give exactly one of world= (e.g. 'tinyweb') and snapshot= (a snapshot folder)")
        if snapshot is not None and (Path(snapshot) / "captions.npy").exists():
            world, snapshot = str(snapshot), None  # a world folder: search its captions
        elif isinstance(world, (str, Path)) and Path(world).is_dir() and not (Path(world) / "captions.npy").exists():
            world, snapshot = None, str(world)  # a recording given as --world: answer what it recorded
        self.backend = _World(world) if world is not None else _Recorded(snapshot)
        self.httpd = _HTTPServer((host, port), _handler(self.backend, max_results, verbose))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{'[%s]' % host if ':' in host else host}:{self.port}"

    def start(self) -> "SnapshotServer":
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

    def __enter__(self) -> "SnapshotServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(world: str | None = None, snapshot: str | None = None, host: str = "127.0.0.1", port: int = 0,
          max_results: int = 10_000, verbose: bool = False) -> None:
    """Serve a world or snapshot until Ctrl-C (prints the address first)."""
    server = SnapshotServer(world=world, snapshot=snapshot, host=host, port=port, max_results=max_results,
                            verbose=verbose)
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
    a = p.parse_args(argv)
    serve(world=a.world, snapshot=a.snapshot, host=a.host, port=a.port, verbose=a.verbose)


if __name__ == "__main__":
    main()
