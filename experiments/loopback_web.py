"""Real HTTP servers on 127.0.0.1 for the live-loop tests: fake search services and a hostile image host.

Each fake service answers with the real service's response schema (see docs/architecture.md, 'The live web'); the image
server has good endpoints and hostile ones (truncated and corrupt files, decompression bombs, HTML served as
``image/jpeg``, oversized bodies, trickling servers, redirect loops, redirects to private addresses, 429 and
500 storms, ``X-Robots-Tag: noai``, one image under many URLs). ``Server(app)`` starts a server in a thread
(``with Server(app) as s: s.url``) and stops it on exit.
"""
from __future__ import annotations

import io
import json
import math
import struct
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image


# --- the server ---------------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _dispatch(self):
        parts = urlsplit(self.path)
        self.route = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = self.headers.get("Content-Length", "")
        self.body = self.rfile.read(int(length)) if length.isdigit() else b""
        self.server.hits[self.route] += 1
        try:
            self.server.app(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = _dispatch

    def send(self, code: int, body: bytes = b"", ctype: str = "application/json", headers: dict | None = None,
             length: int | None = None):
        self.send_response(code)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def json(self, obj, code: int = 200):
        self.send(code, json.dumps(obj).encode())


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 drops connections a parallel client opens at once
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # hostile tests hang up on purpose


class Server:
    """A ThreadingHTTPServer on 127.0.0.1 running ``app(handler)`` for every request."""

    def __init__(self, app):
        self.httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.app = app
        self.httpd.hits = Counter()
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def hits(self) -> Counter:
        """Requests served, by path."""
        return self.httpd.hits

    def start(self) -> Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- images -------------------------------------------------------------------------------------------------
def make_image(i: int, size: tuple[int, int] = (96, 80), fmt: str = "JPEG") -> bytes:
    """A distinct small image for index ``i`` (a seeded colour field with noise)."""
    rng = np.random.default_rng(i)
    w, h = size
    base = rng.integers(0, 256, 3)
    grad = np.linspace(0, 1, w)[None, :, None] * rng.integers(-120, 120, 3)
    arr = np.clip(base + grad + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    if fmt == "PNG":
        img = img.convert("RGBA")
    buf = io.BytesIO()
    img.save(buf, fmt, quality=90) if fmt == "JPEG" else img.save(buf, fmt)
    return buf.getvalue()


def png_header_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's signature)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b"")


GOOD = make_image(0)
PNG = make_image(1, fmt="PNG")
TRUNCATED = make_image(2)[: len(make_image(2)) // 2]
_corrupt = bytearray(make_image(3, fmt="PNG"))
_corrupt[60:400] = b"\xff" * 340
CORRUPT_PNG = bytes(_corrupt)
BOMB = png_header_bomb(100_000, 100_000)  # past Pillow's own limit
BOMB_MEDIUM = png_header_bomb(9_000, 9_000)  # 81 Mpx: under Pillow's error limit, over max_pixels
HTML = b"<!doctype html><html><body>Not an image</body></html>"


def trickle(h, ctype: str, length: int, byte: bytes, count: int) -> None:
    """Promise ``length`` bytes, then send ``byte`` every 0.1 s, ``count`` times (a server too slow to wait for)."""
    h.send_response(200)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(length))
    h.end_headers()
    for _ in range(count):
        h.wfile.write(byte)
        h.wfile.flush()
        time.sleep(0.1)


def image_app(h) -> None:
    """The image host: good and hostile endpoints (see HOSTILE for the paths and the status each earns)."""
    path = h.route
    if path.startswith("/good/"):
        return h.send(200, make_image(int(path.split("/")[2].split(".")[0]) + 1000), "image/jpeg")
    if path.startswith("/img/"):  # /img/<query>/<i>.jpg: the fake search engines' result URLs
        seed = zlib.crc32(path.encode())
        return h.send(200, make_image(seed), "image/jpeg")
    if path.startswith("/dup/"):
        return h.send(200, GOOD, "image/jpeg")
    if path == "/good.png":
        return h.send(200, PNG, "image/png")
    if path == "/no-type.jpg":
        return h.send(200, make_image(7), "")
    if path == "/truncated.jpg":
        return h.send(200, TRUNCATED, "image/jpeg")
    if path == "/corrupt.png":
        return h.send(200, CORRUPT_PNG, "image/png")
    if path == "/bomb.png":
        return h.send(200, BOMB, "image/png")
    if path == "/bomb-medium.png":
        return h.send(200, BOMB_MEDIUM, "image/png")
    if path == "/html-as-jpeg.jpg":
        return h.send(200, HTML, "image/jpeg")
    if path == "/page.html":
        return h.send(200, HTML, "text/html; charset=utf-8")
    if path == "/huge-declared.jpg":  # honest Content-Length over the cap
        return h.send(200, b"\xff\xd8" + b"\0" * 300_000, "image/jpeg")
    if path == "/huge-chunked.jpg":  # no Content-Length: the cap must hold while reading
        h.send_response(200)
        h.send_header("Content-Type", "image/jpeg")
        h.send_header("Connection", "close")
        h.end_headers()
        for _ in range(100):
            h.wfile.write(b"\0" * 65536)
        h.close_connection = True
        return
    if path == "/trickle.jpg":  # one byte every 0.1 s of a 10 kB body
        return trickle(h, "image/jpeg", 10_000, b"\xff", 300)
    if path == "/trickle-headers.jpg":  # the headers themselves trickle in
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(300):
            h.wfile.write(b"X-Slow-%d: 1\r\n" % i)
            h.wfile.flush()
            time.sleep(0.1)
        return
    if path == "/redirect-loop":
        return h.send(302, b"", "", {"Location": "/redirect-loop"})
    if path == "/redirect-good":
        return h.send(301, b"", "", {"Location": "/good/77.jpg"})
    if path == "/redirect-private":  # to an address the tests classify as private (see test_download)
        port = h.server.server_address[1]
        return h.send(302, b"", "", {"Location": f"http://127.0.0.2:{port}/good/5.jpg"})
    if path == "/redirect-file":
        return h.send(302, b"", "", {"Location": "file:///etc/passwd"})
    if path == "/storm429.jpg":
        return h.send(429, b"slow down", "text/plain", {"Retry-After": "0"})
    if path == "/retry-after-long.jpg":
        return h.send(429, b"slow down", "text/plain", {"Retry-After": "3600"})
    if path == "/storm500.jpg":
        return h.send(500, b"oops", "text/plain")
    if path.startswith("/flaky/"):  # two 503s, then the image
        if h.server.hits[path] <= 2:
            return h.send(503, b"busy", "text/plain", {"Retry-After": "0"})
        return h.send(200, make_image(int(path.split("/")[2].split(".")[0]) + 5000), "image/jpeg")
    if path == "/noai.jpg":
        return h.send(200, make_image(8), "image/jpeg", {"X-Robots-Tag": "noai"})
    if path == "/noimageindex.jpg":
        return h.send(200, make_image(9), "image/jpeg", {"X-Robots-Tag": "googlebot: nofollow, noimageindex"})
    if path == "/otherbot.jpg":
        return h.send(200, make_image(10), "image/jpeg", {"X-Robots-Tag": "otherbot: noai"})
    if path == "/missing.jpg":
        return h.send(404, b"not found", "text/plain")
    return h.send(404, b"no such fixture", "text/plain")


HOSTILE = {
    "/truncated.jpg": "corrupt",
    "/corrupt.png": "corrupt",
    "/bomb.png": "decompression_bomb",
    "/bomb-medium.png": "decompression_bomb",
    "/html-as-jpeg.jpg": "not_image",
    "/page.html": "not_image",
    "/huge-declared.jpg": "too_large",
    "/huge-chunked.jpg": "too_large",
    "/trickle.jpg": "timeout",
    "/trickle-headers.jpg": "timeout",
    "/redirect-loop": "too_many_redirects",
    "/redirect-file": "bad_scheme",
    "/storm429.jpg": "http_429",
    "/retry-after-long.jpg": "http_429",
    "/storm500.jpg": "http_5xx",
    "/missing.jpg": "http_4xx",
    "/noai.jpg": "opted_out",
    "/noimageindex.jpg": "opted_out",
}
"""Hostile path -> the status the downloader must give it (with a byte cap of 100 kB and a short deadline)."""


# --- fake search services -----------------------------------------------------------------------------------
def _hits(query: str, total: int, image_base: str) -> list[dict]:
    return [{"i": i, "url": f"{image_base}/img/{query.replace(' ', '_')}/{i}.jpg",
             "title": f"{query} photo {i}"} for i in range(total)]


def _special(h, query: str) -> bool:
    """Broken answers every fake service gives for a few magic queries."""
    if query == "__malformed__":
        h.send(200, b'{"results": [', "application/json")
    elif query == "__huge__":
        h.send(200, b'{"x": "' + b"a" * 3_000_000 + b'"}', "application/json")
    elif query == "__500__":
        h.send(500, b"<html>Internal Server Error</html>", "text/html")
    elif query == "__html__":
        h.send(200, HTML, "text/html")
    else:
        return False
    return True


def openverse_app(image_base: str, total: int = 45, token: str = "tok-123"):
    """Openverse ``/v1/images/`` and ``/v1/auth_tokens/token/``."""
    def app(h):
        if h.route == "/v1/auth_tokens/token/" and h.command == "POST":
            form = {k: v[-1] for k, v in parse_qs(h.body.decode()).items()}
            if form.get("grant_type") != "client_credentials" or form.get("client_secret") != "secret":
                return h.json({"error": "invalid_client"}, 401)
            return h.json({"access_token": token, "token_type": "Bearer", "expires_in": 36000,
                           "scope": "read write"})
        if h.route != "/v1/images/":
            return h.json({"detail": "Not found."}, 404)
        q = h.query.get("q", "")
        if _special(h, q):
            return
        page, size = int(h.query.get("page", 1)), int(h.query.get("page_size", 20))
        authed = h.headers.get("Authorization") == f"Bearer {token}"
        if size > 20 and not authed:
            return h.json({"detail": {"page_size": ["Ensure this value is less than or equal to 20."]}}, 401)
        hits = _hits(q, total, image_base)
        pages = max(1, math.ceil(len(hits) / size))
        rows = hits[(page - 1) * size: page * size]
        lic = h.query.get("license", "by").split(",")[0]
        h.json({"result_count": len(hits), "page_count": pages, "page_size": size, "page": page, "results": [{
            "id": f"00000000-0000-0000-0000-{r['i']:012d}", "title": r["title"], "indexed_on": "2024-01-01T00:00:00Z",
            "foreign_landing_url": f"https://www.flickr.com/photos/x/{r['i']}", "url": r["url"],
            "creator": "someone", "creator_url": "https://www.flickr.com/photos/x", "license": lic,
            "license_version": "2.0", "license_url": f"https://creativecommons.org/licenses/{lic}/2.0/",
            "provider": "flickr", "source": "flickr", "category": "photograph", "genres": None,
            "filesize": None, "filetype": "jpg", "tags": [{"accuracy": None, "name": q, "unstable__provider": "flickr"}],
            "alt_files": None, "attribution": f'"{r["title"]}" by someone is licensed under CC {lic.upper()} 2.0.',
            "fields_matched": ["title"], "mature": False, "height": 80, "width": 96,
            "thumbnail": f"https://api.openverse.org/v1/images/{r['i']}/thumb/",
            "detail_url": f"https://api.openverse.org/v1/images/{r['i']}/",
            "related_url": f"https://api.openverse.org/v1/images/{r['i']}/related/", "unstable__sensitivity": []}
            for r in rows], "warnings": []})
    return app


def clip_app(image_base: str, total: int = 60):
    """clip-retrieval ``POST /knn-service``."""
    def app(h):
        if h.route != "/knn-service" or h.command != "POST":
            return h.send(404, b"not found", "text/plain")
        req = json.loads(h.body)
        if _special(h, req.get("text", "")):
            return
        n = min(req.get("num_images", 40), total)
        h.json([{"url": r["url"], "caption": r["title"], "id": 1000 + r["i"], "similarity": round(0.9 - 0.001 * r["i"], 4)}
                for r in _hits(req["text"], total, image_base)[:n]])
    return app


def flickr_app(image_base: str, api_key: str = "key-abc", total: int = 130):
    """Flickr REST ``flickr.photos.search``."""
    def app(h):
        if h.route != "/services/rest/":
            return h.send(404, b"not found", "text/plain")
        if h.query.get("api_key") != api_key:
            return h.json({"stat": "fail", "code": 100, "message": "Invalid API Key (Key has invalid format)"})
        q = h.query.get("text", "")
        if _special(h, q):
            return
        page, per = int(h.query.get("page", 1)), int(h.query.get("per_page", 100))
        hits = _hits(q, total, image_base)
        rows = hits[(page - 1) * per: page * per]
        h.json({"photos": {"page": page, "pages": max(1, math.ceil(len(hits) / per)), "perpage": per,
                           "total": len(hits), "photo": [{
                               "id": str(5_000_000 + r["i"]), "owner": "12345@N00", "secret": "abcdef", "server": "65535",
                               "farm": 66, "title": r["title"], "ispublic": 1, "isfriend": 0, "isfamily": 0,
                               "license": str([4, 5, 9, 10, 1][r["i"] % 5]), "ownername": "someone",
                               "url_m": r["url"], "height_m": 80, "width_m": "96"} for r in rows]}, "stat": "ok"})
    return app


def wikimedia_app(image_base: str, total: int = 70):
    """MediaWiki ``action=query&generator=search&prop=imageinfo`` (formatversion 2, with ``continue``)."""
    def app(h):
        if h.route != "/w/api.php":
            return h.send(404, b"not found", "text/plain")
        if h.query.get("action") != "query":
            return h.json({"error": {"code": "badvalue", "info": "Unrecognized value for parameter \"action\"."}})
        q = h.query.get("gsrsearch", "")
        if _special(h, q):
            return
        offset, limit = int(h.query.get("gsroffset", 0)), int(h.query.get("gsrlimit", 10))
        hits = _hits(q, total, image_base)[offset: offset + limit]
        pages = []
        for k, r in enumerate(hits):
            svg = r["i"] % 10 == 9  # every tenth file is an SVG the engine must skip
            pages.append({"pageid": 90_000 + r["i"], "ns": 6, "title": f"File:{r['title']}.{'svg' if svg else 'jpg'}",
                          "index": offset + k + 1, "imagerepository": "local", "imageinfo": [{
                              "size": 123456, "width": 1920, "height": 1600, "thumburl": r["url"], "thumbwidth": 96,
                              "thumbheight": 80, "url": f"https://upload.wikimedia.org/full/{r['i']}.jpg",
                              "descriptionurl": f"https://commons.wikimedia.org/wiki/File:{r['i']}",
                              "mime": "image/svg+xml" if svg else "image/jpeg", "extmetadata": {
                                  "LicenseShortName": {"value": "CC BY-SA 4.0", "source": "commons-desc-page"},
                                  "LicenseUrl": {"value": "https://creativecommons.org/licenses/by-sa/4.0"},
                                  "Artist": {"value": "<a href=\"//commons.wikimedia.org/wiki/User:X\">X &amp; Y</a>"}}}]})
        pages.reverse()  # the API does not promise order: the engine sorts by index
        answer = {"batchcomplete": True, "query": {"pages": pages}}
        if offset + limit < total:
            answer["continue"] = {"gsroffset": offset + limit, "continue": "gsroffset||"}
        h.json(answer)
    return app
