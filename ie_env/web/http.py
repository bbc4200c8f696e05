"""The JSON HTTP client that every live search engine shares: one base config (timeouts, retries, byte cap,
User-Agent) and one call with one way of turning failures into a one-line :class:`SearchError`.

Every request of the live loop (search engines and image downloads) names the project and how to reach whoever
runs it, as Wikimedia's User-Agent policy asks of every client (:func:`user_agent`): set ``IE_CONTACT`` to an email
address or a page of yours (``ie-explore live --contact``), or ``IE_USER_AGENT`` to replace the whole string.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import time
from dataclasses import dataclass, fields
from typing import Any

import requests

from ie_env.web.netsafety import DeadlineExceeded, TooLarge, one_line, read_capped, retry_delay
from ie_env.web.search.base import SearchError

CONTACT_ENV = "IE_CONTACT"
"""Environment variable with the operator's contact (an email address or a URL) put into the User-Agent."""
USER_AGENT_ENV = "IE_USER_AGENT"
"""Environment variable that replaces the whole User-Agent."""


def _version() -> str:
    try:
        return importlib.metadata.version("internet-explorer")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def user_agent(contact: str = "") -> str:
    """The User-Agent of the live loop's requests, in the form Wikimedia's User-Agent policy asks for (client name
    and version, contact, library): ``internet-explorer/0.1.0 (research image search; contact: me@example.org)
    python-requests/2.32.3``. The contact is ``contact``, else ``IE_CONTACT``; without one the string says none was
    set (it names no page). ``IE_USER_AGENT``, when set, is returned as it is."""
    override = os.environ.get(USER_AGENT_ENV, "").strip()
    contact = (contact or os.environ.get(CONTACT_ENV, "")).strip()
    if not override.isprintable() or not contact.isprintable() or "(" in contact or ")" in contact \
            or len(contact) > 200:
        raise ValueError(f"contact {contact[:60]!r} / {USER_AGENT_ENV}: give one printable line (a contact: an email "
                         "address or a URL, no parentheses, at most 200 characters)")
    if override:
        return override
    who = f"contact: {contact}" if contact else f"no contact given: operators set {CONTACT_ENV}"
    return f"internet-explorer/{_version()} (research image search; {who}) python-requests/{requests.__version__}"


@dataclass
class HttpEngineConfig:
    """What every HTTP search engine's configuration holds (engines subclass it and add their own fields)."""

    connect_timeout: float = 5.0
    """Seconds to connect."""
    read_timeout: float = 30.0
    """Seconds to wait for bytes of an answer."""
    deadline: float = 60.0
    """Total seconds for one request, retries included."""
    retries: int = 2
    """Extra attempts after a 429 or 5xx answer (Retry-After honoured)."""
    max_bytes: int = 20_000_000
    """Largest answer accepted."""
    user_agent: str = ""
    """User-Agent header (empty: :func:`user_agent`, the project, its version and the contact in ``IE_CONTACT``)."""


def engine_config(cls: type, what: str, options: dict):
    """``cls(**options)``, with a one-line :class:`SearchError` naming the valid options on an unknown one."""
    try:
        cfg = cls(**options)
    except TypeError as e:
        names = ", ".join(f.name for f in fields(cls))
        raise SearchError(f"{what}: {e}: valid options are {names}") from None
    if not cfg.user_agent:
        try:
            cfg.user_agent = user_agent()
        except ValueError as e:
            raise SearchError(f"{what}: {e}") from None
    return cfg


def json_session(cfg: HttpEngineConfig) -> requests.Session:
    """A session that asks for JSON with the configured User-Agent."""
    session = requests.Session()
    session.headers.update({"User-Agent": cfg.user_agent, "Accept": "application/json"})
    return session


def engine_json(session: requests.Session, cfg: HttpEngineConfig, method: str, url: str, *, what: str,
                **kwargs) -> Any:
    """:func:`http_json` with an engine configuration's timeouts, retries and byte cap."""
    return http_json(session, method, url, what=what, connect_timeout=cfg.connect_timeout,
                     read_timeout=cfg.read_timeout, deadline=cfg.deadline, max_bytes=cfg.max_bytes,
                     retries=cfg.retries, **kwargs)


def as_int(value, default: int = 0) -> int:
    """An integer field of an API answer (which may come as a string, or be missing)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def http_json(session: requests.Session, method: str, url: str, *, what: str, params: dict | None = None,
              body: Any = None, data: dict | None = None, headers: dict | None = None, connect_timeout: float = 5.0,
              read_timeout: float = 30.0, deadline: float = 60.0, max_bytes: int = 20_000_000, retries: int = 2,
              backoff: float = 1.0, max_retry_after: float = 30.0) -> Any:
    """One JSON API call for a search engine: timeouts, a byte cap, retries on 429/5xx honouring Retry-After.
    ``body`` is sent as JSON, ``data`` as a form.

    Raises :class:`~ie_env.web.search.base.SearchError` with a one-line message naming ``what`` (the engine) on a
    connection failure, an HTTP error, an oversized body or malformed JSON."""
    end = time.monotonic() + deadline
    for attempt in range(retries + 1):
        try:
            resp = session.request(method, url, params=params, json=body, data=data, headers=headers, stream=True,
                                   timeout=(connect_timeout, read_timeout))
        except requests.Timeout:
            raise SearchError(f"{what}: {url} did not answer within {read_timeout:g} s") from None
        except requests.RequestException as e:
            raise SearchError(f"{what}: cannot reach {url} ({one_line(type(e).__name__)}): check the host or "
                              "base_url") from None
        with resp:
            if (resp.status_code == 429 or resp.status_code >= 500) and attempt < retries:
                delay = retry_delay(resp, attempt, backoff, max_retry_after)
                if time.monotonic() + delay < end:
                    time.sleep(delay)
                    continue
            try:
                raw = read_capped(resp, max_bytes, end)
            except TooLarge as e:
                raise SearchError(f"{what}: answer from {url} too large ({e})") from None
            except (DeadlineExceeded, requests.RequestException, OSError) as e:
                raise SearchError(f"{what}: answer from {url} not complete within {deadline:g} s ({e})") from None
            if resp.status_code != 200:
                raise SearchError(f"{what}: HTTP {resp.status_code} from {url}: "
                                  f"{one_line(raw.decode('utf-8', 'replace'))}")
            try:
                return json.loads(raw)
            except ValueError as e:
                raise SearchError(f"{what}: malformed JSON from {url} ({e}): is base_url right?") from None
    raise SearchError(f"{what}: {url} kept failing after {retries + 1} attempts")  # pragma: no cover


