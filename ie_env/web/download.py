"""The download stage: search results in, validated, de-duplicated, resized images out.

Search results are untrusted input, so the downloader is defensive about every URL it is handed:

- only ``http``/``https`` URLs are fetched; every hop of a redirect chain is checked again;
- each host name is resolved by the downloader itself and the connection goes to an address it checked, so
  a name (or a redirect) pointing at a private, loopback, link-local, multicast or reserved address is
  refused (``blocked_address``) unless ``allow_private`` is set, and DNS rebinding cannot slip past;
- connect and read timeouts, plus a total deadline per image enforced by a watchdog that shuts the socket
  down, so a server trickling its headers or body cannot hold a worker;
- retries with exponential backoff on 429 and 5xx, honouring ``Retry-After`` (capped);
- a byte cap (``Content-Length`` and the bytes actually read), a content-type check, Pillow decoding with a
  pixel-count guard against decompression bombs;
- ``X-Robots-Tag: noai, noimageai, noindex, noimageindex`` honoured by default (``opted_out``).

Work is a plain function over a batch (:meth:`Downloader.fetch`), so a distributor can fan batches out. A
thread pool runs at most ``threads`` downloads at once and at most ``per_host`` against one host; results
come back in input order and de-duplication is decided in that order, so the outcome of a batch does not
depend on thread timing. Each URL is fetched at most once per :class:`Downloader`; seeing it again (or the
same image bytes under another URL) gives ``duplicate``. Every outcome is counted in :attr:`Downloader.status`
(print it with :func:`format_status`), and, given a snapshot, every image and outcome is recorded there
(``blobs`` + ``downloads``; the histogram in the ``download_status`` meta key) so a replay gets the same bytes.
"""
from __future__ import annotations

import socket
import threading
import time
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from tqdm.auto import tqdm
from urllib3.exceptions import NameResolutionError

from ie_env.failpoints import failpoint
from ie_env.types import SearchResult
from ie_env.web.http import user_agent
from ie_env.web.imaging import Outcome, process_image
from ie_env.web.netsafety import (
    BlockedAddress,
    DeadlineExceeded,
    TooLarge,
    Watchdog,
    job,
    make_adapter,
    one_line,
    read_capped,
    retry_delay,
)

OPT_OUT_DIRECTIVES = ("noai", "noimageai", "noindex", "noimageindex")
"""``X-Robots-Tag`` directives that make the downloader skip an image (as img2dataset does by default)."""

STATUSES = ("ok", "duplicate", "timeout", "connection_error", "dns_error", "http_3xx", "http_4xx", "http_429",
            "http_5xx", "http_other", "too_many_redirects", "not_image", "corrupt", "too_large", "decompression_bomb",
            "opted_out", "blocked_address", "bad_scheme", "bad_url", "not_recorded", "search_error")
"""Every status a fetch can end in (the histogram keys); ``not_recorded`` comes from replay only and
``search_error`` (a search that failed, counted by the live env) from no download at all."""


@dataclass
class DownloaderConfig:
    """How images are fetched, checked and stored."""

    image_size: int = 64
    """Side of the square images handed on (resized and centre-cropped); 0 keeps the original size."""
    resize_mode: str = "center_crop"
    """``center_crop`` (shorter side to ``image_size``, then the centre), ``stretch`` or ``pad`` (black borders)."""
    jpeg_quality: int = 90
    """Quality of the re-encoded JPEG that is stored and hashed."""
    threads: int = 32
    """Downloads in flight at once (the thread pool size; work in flight is bounded by it)."""
    per_host: int = 8
    """Downloads in flight at once against one host name."""
    connect_timeout: float = 5.0
    """Seconds to establish a TCP (and TLS) connection."""
    read_timeout: float = 10.0
    """Seconds to wait for any bytes once connected."""
    deadline: float = 20.0
    """Total seconds for one image, retries and redirects included; the socket is shut down past it."""
    retries: int = 2
    """Extra attempts after a 429 or 5xx answer."""
    backoff: float = 0.5
    """First retry delay in seconds, doubled at each further attempt (used when there is no Retry-After)."""
    max_retry_after: float = 10.0
    """Cap on the delay a server's ``Retry-After`` may ask for."""
    max_redirects: int = 5
    """Redirect hops followed before giving up (``too_many_redirects``)."""
    max_url_length: int = 4096
    """Longest URL fetched (``bad_url`` past it)."""
    max_bytes: int = 10_000_000
    """Largest body accepted (``too_large`` past it)."""
    max_pixels: int = 40_000_000
    """Largest width x height accepted before decoding (``decompression_bomb`` past it)."""
    respect_robots: bool = True
    """Skip images whose ``X-Robots-Tag`` says noai, noimageai, noindex or noimageindex (``opted_out``)."""
    allow_private: bool = False
    """Allow private, loopback, link-local and reserved addresses (tests and self-hosted servers only)."""
    user_agent: str = ""
    """User-Agent header sent with every request (empty: :func:`ie_env.web.http.user_agent`, the project, its version
    and the contact in ``IE_CONTACT``)."""

    def validate(self) -> DownloaderConfig:
        self.user_agent = self.user_agent or user_agent()
        if self.image_size < 0:
            raise ValueError(f"image_size={self.image_size}: give a side in pixels (e.g. 64), or 0 to keep sizes")
        if self.resize_mode not in ("center_crop", "stretch", "pad"):
            raise ValueError(f"resize_mode={self.resize_mode!r}: choose center_crop, stretch or pad")
        if self.threads < 1 or self.per_host < 1:
            raise ValueError(f"threads={self.threads}, per_host={self.per_host}: both must be at least 1")
        if min(self.connect_timeout, self.read_timeout, self.deadline) <= 0:
            raise ValueError("connect_timeout, read_timeout and deadline must be positive seconds")
        if self.retries < 0 or self.max_redirects < 0 or self.max_bytes < 1 or self.max_pixels < 1 \
                or self.max_url_length < 1:
            raise ValueError("retries and max_redirects must be >= 0, max_bytes, max_pixels and max_url_length >= 1")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality={self.jpeg_quality}: give 1..100")
        return self


@dataclass
class Fetched:
    """The outcome of fetching one search result."""

    url: str
    key: str
    """The search result's key."""
    status: str
    """One of :data:`STATUSES`."""
    sha256: str = ""
    """Hash of ``image`` (also set for a ``duplicate``: the hash of the image it repeats)."""
    image: bytes | None = None
    """The re-encoded, resized JPEG; ``None`` unless ``status == "ok"``."""
    width: int = 0
    """Width of ``image`` (of the repeated image for a ``duplicate``)."""
    height: int = 0
    detail: str = field(default="", compare=False)
    """A one-line explanation of a failure (or the original size of an image)."""


def seen_before(result: SearchResult, done: tuple[str, str, int, int]) -> Fetched:
    """The outcome for a URL fetched earlier (``done``: its status, sha256, width, height): ``duplicate`` when it
    gave an image, else its failure again. Shared by the downloader and the replaying fetcher."""
    status, sha, w, h = done
    if status in ("ok", "duplicate"):
        return Fetched(result.url, result.key, "duplicate", sha, None, w, h, "URL seen before")
    return Fetched(result.url, result.key, status, detail="URL seen before")


def format_status(counter: Counter | dict, title: str = "download status") -> str:
    """The status histogram as a table (most common first, with shares and a total)."""
    total = sum(counter.values())
    width = max([len(title), 7] + [len(k) for k in counter])
    lines = [f"{title:<{width}}  {'count':>8}  {'share':>6}"]
    for name, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"{name:<{width}}  {n:>8}  {100 * n / max(total, 1):>5.1f}%")
    lines.append(f"{'total':<{width}}  {total:>8}  {100.0 if total else 0.0:>5.1f}%")
    return "\n".join(lines)


# --- the downloader -----------------------------------------------------------------------------------------
class FetcherState:
    """What a fetcher remembers over an episode (outcome per URL, images met, status counts), as a checkpoint."""

    _STATE = ("_done", "_seen", "_seen_raw")

    def state_dict(self) -> dict:
        d = {"status": dict(self.status), "base_status": dict(getattr(self, "_base_status", {}))}
        for name in self._STATE:
            if hasattr(self, name):
                value = getattr(self, name)
                d[name] = sorted(value) if isinstance(value, set) else {k: list(v) if isinstance(v, tuple) else v
                                                                         for k, v in value.items()}
        return d

    def _collect(self, results: list[SearchResult], outcomes: dict, judge) -> list[Fetched]:
        """One :class:`Fetched` per result, in order: a URL met before from memory (:func:`seen_before`), a new
        one by ``judge(result, outcomes[url])``; every result counted in ``status``, the new ones recorded in the
        snapshot."""
        out: list[Fetched] = []
        rows: list[Fetched] = []  # newly fetched URLs, for the snapshot
        for r in results:
            if r.url in self._done:
                f = seen_before(r, self._done[r.url])
            else:
                f = judge(r, outcomes[r.url])
                self._done[r.url] = (f.status, f.sha256, f.width, f.height)
                rows.append(f)
            self.status[f.status] += 1
            out.append(f)
        if self.snapshot is not None:
            record_fetches(self.snapshot, rows, self._base_status + self.status)
        return out

    def load_state_dict(self, d: dict) -> None:
        self.status = Counter(d["status"])
        if hasattr(self, "_base_status"):
            self._base_status = Counter(d["base_status"])
        for name in self._STATE:
            if hasattr(self, name):
                value = d[name]
                setattr(self, name, set(value) if isinstance(value, list) else
                        {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()})


def record_fetches(snapshot, rows: list[Fetched], histogram: Counter) -> None:
    """Store the images and outcomes of newly fetched URLs, and the status ``histogram``, in one transaction."""
    with snapshot.transaction():
        for f in rows:
            if f.status == "ok":
                snapshot.put_blob(f.image, "image/jpeg", f.width, f.height)
            snapshot.put_download(f.url, f.status, f.sha256, f.detail)
            failpoint("record")
        snapshot.set_meta("download_status", dict(histogram))


class Downloader(FetcherState):
    """Fetches the images of search results (see the module docstring for what it guards against).

    Args:
        config: a :class:`DownloaderConfig` (defaults when ``None``).
        snapshot: an open, writable :class:`offline_cache.snapshot.Snapshot` to record every image and outcome
            into (``None``: record nothing).
        progress: show a tqdm bar per batch.
        **options: :class:`DownloaderConfig` fields, overriding ``config``.
    """

    def __init__(self, config: DownloaderConfig | None = None, snapshot=None, progress: bool = False, **options):
        cfg = DownloaderConfig(**{**asdict(config or DownloaderConfig()), **options})
        self.config = cfg.validate()
        self.snapshot = snapshot
        self.progress = progress
        self.status: Counter = Counter()
        """Every outcome counted so far (one per result handed to :meth:`fetch`)."""
        self._done: dict[str, tuple[str, str, int, int]] = {}  # url -> (status, sha256, width, height)
        self._seen_raw: dict[str, str] = {}  # sha256 of downloaded bytes -> sha256 of the stored image
        self._seen: set[str] = set()  # sha256 of stored images
        self._watchdog = Watchdog()
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(cfg.threads, thread_name_prefix="ie-download")
        self._base_status = Counter(snapshot.get_meta("download_status", {}) if snapshot is not None else {})

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._watchdog.close()

    def __enter__(self) -> Downloader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- one URL --------------------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.trust_env = False  # no proxies from the environment: addresses are checked on our own connections
            s.headers.update({"User-Agent": self.config.user_agent, "Accept": "image/*"})
            adapter = make_adapter(self.config.allow_private, self._watchdog, self.config.per_host)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            self._local.session = s
        return s

    def _download(self, url: str) -> Outcome:
        failpoint("download")
        cfg = self.config
        job.deadline = time.monotonic() + cfg.deadline
        job.tokens = []
        try:
            return self._process(*self._get(url))
        except DeadlineExceeded as e:
            return Outcome("timeout", f"deadline {cfg.deadline:g} s passed: {e}")
        finally:
            for token in job.tokens:
                self._watchdog.unwatch(token)
            job.deadline = None

    def _get(self, url: str) -> tuple[str, str, bytes | None]:
        """(status, detail, body): the body is set only when status is ``ok``."""
        cfg = self.config
        session = self._session()
        attempt = hops = 0
        while True:
            try:
                parts = urlsplit(url)
                host = parts.hostname
            except ValueError as e:
                return "bad_url", one_line(f"{url!r}: {e}"), None
            if len(url) > cfg.max_url_length:
                return "bad_url", f"URL of {len(url)} characters (max_url_length={cfg.max_url_length})", None
            if parts.scheme.lower() not in ("http", "https"):
                return "bad_scheme", one_line(f"scheme {parts.scheme!r} of {url!r} (only http and https)"), None
            if not host:
                return "bad_url", one_line(f"no host in {url!r}"), None
            try:
                resp = session.get(url, stream=True, allow_redirects=False,
                                   timeout=(cfg.connect_timeout, cfg.read_timeout))
            except BlockedAddress as e:
                return "blocked_address", one_line(str(e)), None
            except requests.RequestException as e:
                return self._failure(e), one_line(f"{type(e).__name__}: {e}"), None
            except (ValueError, UnicodeError) as e:
                return "bad_url", one_line(f"{url!r}: {e}"), None
            with resp:
                code = resp.status_code
                if 300 <= code < 400 and "Location" in resp.headers:
                    hops += 1
                    if hops > cfg.max_redirects:
                        return "too_many_redirects", f"more than {cfg.max_redirects} redirects", None
                    url = urljoin(url, resp.headers["Location"])
                    continue
                if (code == 429 or code >= 500) and attempt < cfg.retries:
                    delay = retry_delay(resp, attempt, cfg.backoff, cfg.max_retry_after)
                    if time.monotonic() + delay < job.deadline:
                        attempt += 1
                        resp.close()
                        time.sleep(delay)
                        continue
                if code != 200:
                    kind = "http_429" if code == 429 else f"http_{code // 100}xx" if 300 <= code < 600 else "http_other"
                    return kind, f"HTTP {code}", None
                if cfg.respect_robots:
                    directive = _opt_out(resp.headers.get("X-Robots-Tag", ""))
                    if directive:
                        return "opted_out", f"X-Robots-Tag: {directive}", None
                ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if ctype and not ctype.startswith("image/") and ctype != "application/octet-stream":
                    return "not_image", f"Content-Type {ctype}", None
                try:
                    return "ok", "", read_capped(resp, cfg.max_bytes, job.deadline)
                except TooLarge as e:
                    return "too_large", str(e), None
                except DeadlineExceeded:
                    raise
                except Exception as e:  # noqa: BLE001  (requests, urllib3 and socket errors alike)
                    return self._failure(e), one_line(f"{type(e).__name__}: {e}"), None

    @staticmethod
    def _failure(e: BaseException) -> str:
        deadline = getattr(job, "deadline", None)
        if deadline is not None and time.monotonic() >= deadline:
            return "timeout"
        chain: list[BaseException] = []
        stack: list = [e]
        while stack and len(chain) < 20:  # the exception, its causes and the errors requests/urllib3 wrap
            c = stack.pop()
            if isinstance(c, BaseException) and c not in chain:
                chain.append(c)
                stack += [c.__cause__, c.__context__, getattr(c, "reason", None), *c.args]
        for c in chain:
            if isinstance(c, BlockedAddress):
                return "blocked_address"
            if isinstance(c, NameResolutionError):
                return "dns_error"
        if isinstance(e, requests.Timeout) or any(isinstance(c, (socket.timeout, TimeoutError)) for c in chain):
            return "timeout"
        if isinstance(e, requests.TooManyRedirects):
            return "too_many_redirects"
        if isinstance(e, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
            return "bad_url"
        return "connection_error"

    def _process(self, status: str, detail: str, data: bytes | None) -> Outcome:
        if status != "ok":
            return Outcome(status, detail)
        cfg = self.config
        return process_image(data, cfg.image_size, cfg.resize_mode, cfg.jpeg_quality, cfg.max_pixels)

    # --- a batch --------------------------------------------------------------------------------------------
    def fetch(self, results: list[SearchResult]) -> list[Fetched]:
        """Fetch the images of ``results``; one :class:`Fetched` per result, in the same order."""
        todo = list(dict.fromkeys(r.url for r in results if r.url not in self._done))
        return self._collect(results, self._run(todo), self._judge)

    def _judge(self, r: SearchResult, o: Outcome) -> Fetched:
        """A new URL's result: its outcome, or a duplicate of an image already handed on (same bytes or pixels)."""
        if o.status != "ok":
            return Fetched(r.url, r.key, o.status, detail=o.detail)
        if o.raw_sha256 in self._seen_raw or o.sha256 in self._seen:
            sha = self._seen_raw.get(o.raw_sha256, o.sha256)
            return Fetched(r.url, r.key, "duplicate", sha, None, o.width, o.height, "same image as another URL")
        self._seen.add(o.sha256)
        self._seen_raw[o.raw_sha256] = o.sha256
        return Fetched(r.url, r.key, "ok", o.sha256, o.image, o.width, o.height, o.detail)

    def _run(self, urls: list[str]) -> dict[str, Outcome]:
        """Download ``urls`` with at most ``threads`` in flight, ``per_host`` per host, hosts taken in turn."""
        cfg = self.config
        queues: dict[str, deque[str]] = {}
        for u in urls:
            try:
                host = (urlsplit(u).hostname or "").lower()
            except ValueError:
                host = ""
            queues.setdefault(host, deque()).append(u)
        active: Counter = Counter()
        running: dict[Any, tuple[str, str]] = {}
        results: dict[str, Outcome] = {}
        hosts = deque(queues)
        bar = None
        if self.progress and urls:
            bar = tqdm(total=len(urls), desc="downloading", unit="img")
        try:
            while hosts or running:
                # hand out work host by host while there is room
                blocked = 0
                while hosts and len(running) < cfg.threads and blocked < len(hosts):
                    host = hosts[0]
                    hosts.rotate(-1)
                    if active[host] >= cfg.per_host:
                        blocked += 1
                        continue
                    blocked = 0
                    url = queues[host].popleft()
                    if not queues[host]:
                        hosts.remove(host)
                    active[host] += 1
                    running[self._pool.submit(self._download, url)] = (host, url)
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    host, url = running.pop(fut)
                    active[host] -= 1
                    results[url] = fut.result()
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return results


def _opt_out(header: str) -> str:
    """The first opt-out directive of an X-Robots-Tag value that applies to every agent or to ours
    (``otherbot: noindex`` concerns another crawler and is ignored)."""
    for part in header.lower().split(","):
        words = part.replace(":", " : ").split()
        if len(words) >= 2 and words[1] == ":":
            if words[0] not in ("*", "internet-explorer", "img2dataset"):
                continue
            words = words[2:]
        for word in words:
            if word in OPT_OUT_DIRECTIVES:
                return word
    return ""


