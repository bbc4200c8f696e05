"""The connection layer of the fetch stage: which addresses may be reached, deadlines, capped reads, retry delays.

Search results and API answers are untrusted input. :func:`make_adapter` gives a requests adapter whose
connections resolve each host name themselves and connect only to an address they checked (a name or a
redirect pointing at a private, loopback, link-local, multicast or reserved address raises
:class:`BlockedAddress`, and DNS rebinding cannot slip past), and whose sockets a :class:`Watchdog` shuts down
when the current job's deadline passes, so a server trickling bytes cannot hold a worker.
:func:`read_capped` reads a streamed body under a byte cap and a deadline. Written against urllib3 2.x
(its connection and pool classes are subclassed here).
"""
from __future__ import annotations

import email.utils
import ipaddress
import socket
import threading
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as u3connection


class BlockedAddress(Exception):
    """A URL's host resolved to an address the downloader refuses (raised inside the HTTP stack)."""


class TooLarge(Exception):
    pass


class DeadlineExceeded(Exception):
    pass


def is_public_address(ip: str) -> bool:
    """Whether an IP address is a public unicast one (not private, loopback, link-local, multicast, reserved)."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_global and not addr.is_multicast


# --- deadline watchdog ---------------------------------------------------------------------------------------
class Watchdog:
    """Shuts sockets down when the deadline of the download using them passes (unblocks any recv)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._items: dict[int, tuple[float, socket.socket]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None
        self._stop = False

    def watch(self, sock: socket.socket, deadline: float) -> int:
        with self._cond:
            self._next += 1
            self._items[self._next] = (deadline, sock)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ie-download-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
            return self._next

    def unwatch(self, token: int) -> None:
        with self._cond:
            self._items.pop(token, None)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while not self._stop:
                now = time.monotonic()
                for token, (deadline, sock) in list(self._items.items()):
                    if deadline <= now:
                        del self._items[token]
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                soonest = min((d for d, _ in self._items.values()), default=now + 1.0)
                self._cond.wait(max(0.01, soonest - now))


job = threading.local()
"""Per worker thread: the deadline of the current download and its watchdog tokens."""


def make_adapter(allow_private: bool, watchdog: Watchdog, pool_size: int) -> HTTPAdapter:
    """A requests adapter whose connections resolve and check addresses themselves and obey the watchdog."""

    def new_socket(conn) -> socket.socket:
        host, port = conn._dns_host, conn.port
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise NameResolutionError(conn.host, conn, e) from e
        addrs = list(dict.fromkeys(info[4][0] for info in infos))
        if not allow_private:
            bad = [a for a in addrs if not is_public_address(a)]
            if bad:
                raise BlockedAddress(f"{host} resolves to non-public address {bad[0]}")
        error: Exception | None = None
        for addr in addrs:
            try:
                sock = u3connection.create_connection((addr, port), conn.timeout, source_address=conn.source_address,
                                                      socket_options=conn.socket_options)
                break
            except TimeoutError:
                error = ConnectTimeoutError(conn, f"connection to {host} timed out")
            except OSError as e:
                error = NewConnectionError(conn, f"failed to connect to {host}: {e}")
        else:
            raise error or NewConnectionError(conn, f"{host} has no address")
        watch(sock)
        return sock

    def watch(sock) -> None:
        deadline = getattr(job, "deadline", None)
        if deadline is not None and sock is not None:
            job.tokens.append(watchdog.watch(sock, deadline))

    class _Conn(HTTPConnection):
        def _new_conn(self):
            return new_socket(self)

        def request(self, *args, **kwargs):
            watch(self.sock)  # a kept-alive connection serving a new download
            return super().request(*args, **kwargs)

    class _TLSConn(HTTPSConnection):
        def _new_conn(self):
            return new_socket(self)

        def request(self, *args, **kwargs):
            watch(self.sock)
            return super().request(*args, **kwargs)

    class _Pool(HTTPConnectionPool):
        ConnectionCls = _Conn

    class _TLSPool(HTTPSConnectionPool):
        ConnectionCls = _TLSConn

    adapter = HTTPAdapter(pool_connections=64, pool_maxsize=pool_size, max_retries=0)
    adapter.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
    return adapter


def read_capped(resp: requests.Response, max_bytes: int, deadline: float) -> bytes:
    """The body of a streamed response, refusing more than ``max_bytes`` or reading past ``deadline``
    (a ``time.monotonic()`` value): each read returns what the socket has, so a trickle is caught."""
    length = resp.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise TooLarge(f"Content-Length {length} > {max_bytes} bytes")
    buf = bytearray()
    while True:
        if time.monotonic() > deadline:
            raise DeadlineExceeded(f"body not complete after {len(buf)} bytes")
        chunk = resp.raw.read1(65536, decode_content=True)
        if not chunk:
            if time.monotonic() > deadline:  # the watchdog shut the socket down
                raise DeadlineExceeded(f"body not complete after {len(buf)} bytes")
            return bytes(buf)
        buf += chunk
        if len(buf) > max_bytes:
            raise TooLarge(f"body larger than {max_bytes} bytes")


def retry_delay(resp: requests.Response, attempt: int, backoff: float, cap: float) -> float:
    value = resp.headers.get("Retry-After", "").strip()
    delay = backoff * 2 ** attempt
    if value.isdigit():
        delay = float(value)
    elif value:
        when = email.utils.parsedate_to_datetime(value) if _is_http_date(value) else None
        if when is not None:
            delay = when.timestamp() - time.time()
    return min(max(delay, 0.0), cap)


def _is_http_date(value: str) -> bool:
    try:
        return email.utils.parsedate_to_datetime(value) is not None
    except (TypeError, ValueError, IndexError):
        return False


def one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


