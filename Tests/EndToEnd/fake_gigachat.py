#!/usr/bin/env python3
"""A fake GigaChat API for end-to-end tests and benchmarks (standard library only).

It follows /work/shared/gigachat-api.md (the "reference" below): the OAuth endpoint (§2.1), password
auth (§2.2), the v1 endpoints of §4, chat in both shapes (§5.2 JSON, §6.1 SSE, byte for byte: compact
one-line JSON, ``data: {json}\\n\\n``, the last chunk carrying finish_reason and usage, then
``data: [DONE]\\n\\n``), and the error shapes of §8 (``{status,message}`` on the API,
``{code,message}`` on the OAuth endpoint, HTML pages from the gateway), and the v2 ("primary") chat
of §7 at ``POST /api/v2/chat/completions`` (JSON and named SSE events; the shapes and what they are
taken from are in fake_v2.py).

Two ways to use it:

* in-process (the pytest harness)::

      fake = FakeGigaChat(pki, key="...").start()
      fake.base_url, fake.auth_url, fake.ca_file      # what to give the daemon
      fake.inject("chat", "reset_after", chunks=2)    # one-shot fault for the next chat request
      fake.state.oauth_calls, fake.state.chat_max_in_flight, ...   # read directly by tests
      fake.stop()

* standalone (README demo, benchmark)::

      python3 fake_gigachat.py --port 0 --certdir DIR [--ready-file F] [--env-file F]

  It prints GIGACHAT_*=... lines (usable as an EnvironmentFile / ``gigachatd --config``) and takes
  faults and settings through ``POST /_control`` (see ``_Handler._control`` for the JSON).

Everything listens on 127.0.0.1 only. Where the reference has no recording (for example the body of a
401 from the OAuth host) the fake invents something plausible and says so in a comment; tests must not
depend on those invented details.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import dataclasses
import hashlib
import json
import math
import os
import random
import re
import secrets
import select
import signal
import socket
import ssl
import string
import struct
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pki import TestPKI, make_test_pki  # noqa: E402
import fake_v2  # noqa: E402
from fake_v2 import V2_CHAT_PATH, split_text  # noqa: E402

__all__ = [
    "FakeGigaChat",
    "FakeSettings",
    "FakeState",
    "Fault",
    "RecordedRequest",
    "FAULT_KINDS",
    "SSE_FLAGS",
    "OAUTH_PATH",
    "API_PREFIX",
    "V2_CHAT_PATH",
    "CONTROL_PATH",
    "parse_sse",
    "split_text",
]

OAUTH_PATH = "/api/v2/oauth"
API_PREFIX = "/api/v1"
CONTROL_PATH = "/_control"
SCOPES = ("GIGACHAT_API_PERS", "GIGACHAT_API_B2B", "GIGACHAT_API_CORP")

# Model list as recorded in January 2026 (reference §9), plus newer names seen in 2026.
MODELS: list[tuple[str, str]] = [
    *((m, "chat") for m in (
        "GigaChat", "GigaChat-2", "GigaChat-2-Pro", "GigaChat-2-Max", "GigaChat-Pro", "GigaChat-Max",
        "GigaChat-Plus", "GigaChat-preview", "GigaChat-2-preview", "GigaChat-2-Pro-preview",
        "GigaChat-2-Max-preview", "GigaChat-Pro-preview", "GigaChat-Max-preview",
        "GigaChat-2-Reasoning", "GigaChat-3-Ultra", "GigaChat-3-Lightning", "GigaChat-3-Pro",
    )),
    *((m, "embedder") for m in ("Embeddings", "Embeddings-2", "EmbeddingsGigaR", "GigaEmbeddings-3B-2025-09")),
    ("GigaCheckClassification", "aicheck"),
    ("GigaCheckDetection", "aicheck"),
    ("GigaFilter", "filter"),
]

# One-shot faults, applied to the next request(s) on a path. See Fault for the parameters of each.
FAULT_KINDS = frozenset({
    "none",          # no failure: only the modifiers (sse, reply, interval, ...) apply
    "status",        # HTTP `status` with the API's JSON body {"status","message"} (or `body`)
    "html",          # HTTP `status` (default 502) with the gateway's HTML page signed SynGX
    "unauthorized",  # 401 {"status":401,"message":"Token has expired"}, although the token is valid
    "rate_limit",    # 429 with Retry-After: `retry_after` (seconds, default 1), empty body
    "reset",         # TCP reset after reading the request, before any response byte
    "reset_after",   # stream `chunks` SSE events (default 1), then TCP reset
    "stall",         # no byte for `seconds`, before the response headers; then answer normally
    "stall_after",   # stream `chunks` events, then no byte for `seconds`, then the rest
    "malformed",     # after `chunks` events, a data line whose JSON is cut off; then the rest
    "truncate",      # stream `chunks` events (default: all but the finishing one), then end the
                     # HTTP body cleanly: no finish_reason, no [DONE]. `finish`: true keeps the
                     # finishing event; `abrupt`: true closes the TCP connection instead (no 0-chunk)
    "payment_required",  # 402 {"status":402,"message":"Payment Required"}: no tokens left for the model
    "stop_event",    # the model is switched off for now: `status` 423 (default) or 403, with a message
                     # containing "temporarily unavailable due to technical reasons" (reference §8.1)
    "blacklist",     # a normal 200 answer with the canned refusal and finish_reason "blacklist"
    "error_event",   # v2 stream: `chunks` events (default: all but response.message.done), then
                     # `event: error` {"status_code","message"} (params `status_code` 500, `message`) and
                     # the end of the body. A non-stream or v1 chat gets that status as an HTTP error.
    "endless_data",  # stream `chunks` events (default 1), then `data: ` lines of 64 KiB of "x" each
                     # and never the blank line that ends an event, until `mib` MiB (default 64)
                     # were written or the client leaves; then end the body cleanly. One SSE event
                     # that never ends: a client that buffers events unbounded runs out of memory.
                     # A non-stream chat gets a JSON body that never closes its string instead.
})
_STREAM_FAULTS = frozenset({"reset_after", "stall_after", "malformed", "truncate", "endless_data"})

ENDLESS_LINE = 64 * 1024  # bytes of "x" per data line of an "endless_data" fault

# SSE framing variants (combine with "+", e.g. "crlf+nospace+split").
SSE_FLAGS = frozenset({
    "crlf",           # CRLF line ends instead of LF
    "nospace",        # "data:{...}" without the space
    "leading_blank",  # an empty line before the first event (the 2023 SDK fixture has one)
    "split",          # write the byte stream in pieces cut mid-line and mid-UTF-8-character,
                      # with a pause after each piece so the client sees separate reads
})

SPLIT_PAUSE = 0.01  # seconds between the pieces of a "split" stream

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

_GATEWAY_HTML = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>SynGX</center>\r\n</body>\r\n</html>\r\n"
)

_JSON_SEPARATORS = (",", ":")


def _dumps(obj: Any) -> bytes:
    # The API sends compact one-line JSON with raw (unescaped) UTF-8; so do we, which is what makes
    # split-in-the-middle-of-a-character tests meaningful.
    return json.dumps(obj, ensure_ascii=False, separators=_JSON_SEPARATORS).encode("utf-8")


def parse_sse(raw: bytes) -> list[str]:
    """Reference SSE parser used by the self-tests: the ``data`` values of a v1 stream, in order.

    Lines split on LF with an optional CR dropped; field and value split at the first colon; one
    optional space stripped (reference §6.2).
    """
    values = []
    for line in raw.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            continue
        name, _, value = line.partition(b":")
        if name != b"data":
            continue
        if value.startswith(b" "):
            value = value[1:]
        values.append(value.decode("utf-8"))
    return values


# --------------------------------------------------------------------------------------------------
# Settings, faults, records, state


@dataclass
class FakeSettings:
    """Behaviour of the fake. Tests may change fields at any time (``fake.settings.x = y``)."""

    key: str = ""  # the authorization key (base64 of client_id:client_secret), sent as Basic <key>
    scope: str = "GIGACHAT_API_PERS"  # the one scope the key is bound to (other scopes: code 7)
    user: Optional[str] = None  # password auth (POST /api/v1/token)
    password: Optional[str] = None
    token_lifetime: float = 1800.0  # seconds; the real API issues 30-minute tokens
    expiry_offset: float = 0.0  # seconds added to the expiry *reported* in issued tokens (expires_at /
    #                             exp) only; the fake still accepts each token for token_lifetime. A
    #                             client whose clock is off, or a token that arrives already expired
    #                             (expiry_offset=-3600), without the API actually refusing it.
    token_format: str = "access_token"  # "access_token" {access_token, expires_at ms} |
    #                                     "tok_ms" {tok, exp ms} | "tok_s" {tok, exp seconds}
    token_length: int = 1200  # real tokens are ~1.2 KB of opaque text
    oauth_delay: float = 0.0  # seconds the OAuth endpoint thinks before answering
    reply: Optional[str] = None  # fixed assistant text; None: "Echo: " + the last user message
    reply_prefix: str = "Echo: "
    chunks: int = 4  # content events per streamed reply (fewer if the text is shorter)
    chunk_interval: float = 0.0  # seconds between streamed events
    first_byte_delay: float = 0.0  # seconds before the response headers of a chat
    sse: str = ""  # default SSE framing flags (see SSE_FLAGS), e.g. "crlf+split"
    usage_on_every_chunk: bool = False  # older thread streams carry usage on every event
    model_version: str = "2.0.28.2"  # the API answers "GigaChat:2.0.28.2" for "GigaChat"
    extra_models: list[str] = field(default_factory=list)  # accepted in addition to MODELS
    concurrency_limit: Optional[int] = None  # like the real API: chats beyond this get 429
    bench: Optional[str] = None  # "N:S[:P]": every chat is a bench stream (see _bench_stream)
    embedding_dim: int = 1024
    created_at: Optional[int] = None  # fixed `created` / `created_at` of chat answers (None: now), so
    #                                   that two answers to the same request are equal field for field
    image_bytes: int = 42966  # size of a generated image (v2 image_generate); the SDK's image.jpg size
    verbose: bool = False  # one line per request on stderr


@dataclass
class Fault:
    """A fault or a set of modifiers for the next ``times`` requests on one path.

    ``params`` by kind: status/html: ``status``, ``message``, ``body``, ``content_type``,
    ``headers``; rate_limit: ``retry_after``; reset_after/stall_after/malformed/truncate: ``chunks``;
    reset_after: ``pause`` (seconds between the last byte and the reset, default 0.2);
    stall/stall_after: ``seconds``; truncate: ``finish``, ``abrupt``; endless_data: ``chunks``,
    ``mib`` (MiB of endless data lines, default 64). Modifiers valid with any kind:
    ``sse`` (framing flags), ``reply`` (assistant text), ``reply_chunks`` (exact list of content
    pieces), ``interval`` (seconds between events), ``first_byte_delay``, ``finish_reason``.
    ``times`` = -1 keeps the fault until it is cleared.
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    times: int = 1

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "times": self.times, **self.params}


@dataclass
class RecordedRequest:
    """One request as the fake saw it, plus what the fake did about it."""

    t: float  # time.monotonic() when the request (with body) had been read
    wall: float  # time.time() at the same moment
    conn: int  # id of the TCP connection (1, 2, ... in accept order), to check keep-alive reuse
    method: str
    path: str  # as sent, without the query
    route: str  # "oauth", "/chat/completions", "/models/GigaChat", ... (API prefix removed)
    query: dict[str, list[str]]
    header_list: list[tuple[str, str]] = field(repr=False)
    body: bytes = field(repr=False)
    json: Any = field(default=None, repr=False)  # parsed JSON body, if it was JSON
    form: dict[str, list[str]] = field(default_factory=dict)  # parsed urlencoded body
    parts: list[dict[str, Any]] = field(default_factory=list)  # parsed multipart body
    status: Optional[int] = None  # status the fake answered with (None: reset before answering)
    token: Optional[str] = field(default=None, repr=False)  # Bearer token presented
    fault: Optional[str] = None  # kind of the fault applied, if any
    stream: bool = False
    reply: Optional[str] = None  # chat: the whole assistant text the fake meant to send
    usage: Optional[dict[str, int]] = None  # chat: the usage object it sent (or would have)
    events_sent: int = 0  # SSE data events fully written
    sent_content: str = ""  # concatenated delta.content of the events fully written
    pieces: list[int] = field(default_factory=list)  # sizes of the writes of a "split" stream
    endless_bytes: int = 0  # "endless_data": bytes of the never-ending event actually written
    done: bool = False  # the fake finished with this request (answered, reset or client gone)
    error: Optional[str] = None  # an exception inside the fake, if any
    v2_events: list[tuple[str, dict[str, Any]]] = field(default_factory=list, repr=False)  # v2: (event, data)
    #                                      planned, in order; the first events_sent of them went out whole
    v2_response: Optional[dict[str, Any]] = field(default=None, repr=False)  # v2: the non-stream body
    #                                      (also computed for a stream: what it adds up to)

    @property
    def session_id(self) -> Optional[str]:
        """The X-Session-ID header the client sent, if any."""
        return self.header("X-Session-ID")

    @property
    def sent_events(self) -> list[tuple[str, dict[str, Any]]]:
        """v2: the (event, data) pairs fully written to the client."""
        return self.v2_events[: self.events_sent]

    def header(self, name: str) -> Optional[str]:
        """The value of a request header, case-insensitively (last one wins)."""
        lname = name.lower()
        value = None
        for k, v in self.header_list:
            if k.lower() == lname:
                value = v
        return value

    @property
    def headers(self) -> dict[str, str]:
        """Headers with lower-cased names."""
        return {k.lower(): v for k, v in self.header_list}

    def summary(self) -> dict[str, Any]:
        return {
            "t": self.t, "conn": self.conn, "method": self.method, "path": self.path, "route": self.route,
            "status": self.status, "fault": self.fault, "stream": self.stream,
            "events_sent": self.events_sent, "done": self.done,
        }


class FakeState:
    """Everything the fake counted and recorded. Tests read the attributes directly.

    Lists are only ever appended to, so reading them from a test thread is safe; use
    ``FakeGigaChat.wait_for`` to wait for a condition instead of sleeping.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.requests: list[RecordedRequest] = []  # every request except /_control
        self.oauth_calls: list[RecordedRequest] = []  # every POST to the OAuth path (.t = when)
        self.password_calls: list[RecordedRequest] = []  # every POST /api/v1/token
        self.tokens: dict[str, Optional[float]] = {}  # currently valid token -> expiry (epoch s) or None
        self.issued_tokens: list[str] = []  # every token ever issued or added (for secret scans)
        self.unauthorized = 0  # 401 answers given on API paths
        self.chat_in_flight = 0  # chat requests being served right now
        self.chat_max_in_flight = 0  # the most ever served at once
        self.chat_spans: list[tuple[float, float]] = []  # (start, end) monotonic, per chat served
        self.connections_accepted = 0  # TCP connections accepted (both listeners)
        self.connections_open = 0
        self.disconnects: list[dict[str, Any]] = []  # clients that went away mid-response
        self.tls_failures: list[dict[str, Any]] = []  # handshakes that failed (e.g. cert refused)
        self.files: dict[str, dict[str, Any]] = {}  # uploaded files: id -> {"meta", "data", "mime"}
        self.faults: dict[str, collections.deque[Fault]] = {}
        self.oauth_down_mode: Optional[str] = None  # "503" | "html" | "reset" | "refuse"
        self.oauth_down_remaining: Optional[int] = None  # None: until oauth_up()

    # -- views used by tests
    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """v1 chats (POST /api/v1/chat/completions)."""
        return self.requests_to("/chat/completions")

    @property
    def v2_chat_requests(self) -> list[RecordedRequest]:
        """v2 chats (POST /api/v2/chat/completions)."""
        return self.requests_to(V2_CHAT_PATH)

    @property
    def session_ids(self) -> list[Optional[str]]:
        """X-Session-ID of every v1 and v2 chat, in order (None: not sent)."""
        return [r.session_id for r in list(self.requests) if r.route in ("/chat/completions", V2_CHAT_PATH)]

    def requests_to(self, route: str) -> list[RecordedRequest]:
        key = fault_key(route)
        return [r for r in list(self.requests) if r.route == key]

    # -- internal bookkeeping (all under the lock, each change wakes wait_for)
    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def _add_request(self, rec: RecordedRequest) -> None:
        with self.changed:
            self.requests.append(rec)
            if rec.route == "oauth":
                self.oauth_calls.append(rec)
            elif rec.route == "/token":
                self.password_calls.append(rec)
            self.changed.notify_all()

    def _pop_fault(self, route: str) -> Optional[Fault]:
        with self.lock:
            for key in (route, "*" if route != "oauth" else None):
                queue = self.faults.get(key) if key else None
                if not queue:
                    continue
                fault = queue[0]
                if fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        queue.popleft()
                # A persistent fault (times < 0) is returned as a copy so that a test clearing it
                # does not race with a request that is using it.
                return dataclasses.replace(fault, params=dict(fault.params))
        return None

    def _oauth_down(self) -> Optional[str]:
        with self.lock:
            mode = self.oauth_down_mode
            if mode is None:
                return None
            if self.oauth_down_remaining is not None:
                self.oauth_down_remaining -= 1
                if self.oauth_down_remaining <= 0:
                    self.oauth_down_mode = None
                    self.oauth_down_remaining = None
            return mode

    def _chat_begin(self, limit: Optional[int]) -> bool:
        with self.changed:
            if limit is not None and self.chat_in_flight >= limit:
                return False
            self.chat_in_flight += 1
            self.chat_max_in_flight = max(self.chat_max_in_flight, self.chat_in_flight)
            self.changed.notify_all()
            return True

    def _chat_end(self, start: float) -> None:
        with self.changed:
            self.chat_in_flight -= 1
            self.chat_spans.append((start, time.monotonic()))
            self.changed.notify_all()

    def _disconnect(self, rec: Optional[RecordedRequest], conn: int, via: str) -> None:
        with self.changed:
            self.disconnects.append({
                "t": time.monotonic(), "wall": time.time(), "conn": conn, "via": via,
                "route": rec.route if rec else None, "events_sent": rec.events_sent if rec else 0,
                "request": rec,
            })
            self.changed.notify_all()

    def snapshot(self) -> dict[str, Any]:
        """Counters as plain JSON (no tokens, no bodies)."""
        with self.lock:
            return {
                "requests": len(self.requests),
                "oauth_calls": len(self.oauth_calls),
                "oauth_call_times": [r.t for r in self.oauth_calls],
                "password_calls": len(self.password_calls),
                "chat_requests": len(self.chat_requests),
                "v2_chat_requests": len(self.v2_chat_requests),
                "chat_in_flight": self.chat_in_flight,
                "chat_max_in_flight": self.chat_max_in_flight,
                "unauthorized": self.unauthorized,
                "connections_accepted": self.connections_accepted,
                "connections_open": self.connections_open,
                "disconnects": [{k: v for k, v in d.items() if k != "request"} for d in self.disconnects],
                "tls_failures": list(self.tls_failures),
                "valid_tokens": len(self.tokens),
                "issued_tokens": len(self.issued_tokens),
                "files": len(self.files),
                "faults": {k: [f.to_json() for f in q] for k, q in self.faults.items() if q},
                "oauth_down": self.oauth_down_mode,
                "recent": [r.summary() for r in self.requests[-20:]],
            }


def fault_key(path: str) -> str:
    """Normalise a path or alias to the key faults and routes use.

    "oauth" (or the OAuth path) -> "oauth"; "chat" -> "/chat/completions"; "*" -> any API path;
    "/api/v1/models" or "models" -> "/models"; "v2" (or "chat.create", or the path) -> the v2 chat path.
    """
    p = path.strip()
    if p in ("oauth", "/oauth", OAUTH_PATH):
        return "oauth"
    if p in ("v2", "chat.create", V2_CHAT_PATH):
        return V2_CHAT_PATH
    if p in ("chat", "*"):
        return "/chat/completions" if p == "chat" else "*"
    if p == API_PREFIX or p.startswith(API_PREFIX + "/"):
        p = p[len(API_PREFIX):]
    if not p.startswith("/"):
        p = "/" + p
    return p


# --------------------------------------------------------------------------------------------------
# The fake


class FakeGigaChat:
    """The fake API server. ``start()`` returns self; use as a context manager if you like."""

    def __init__(
        self,
        pki: Optional[TestPKI] = None,
        *,
        certdir: Optional[str] = None,
        key: Optional[str] = None,
        cert: str = "good",
        host: str = "127.0.0.1",
        port: int = 0,
        separate_auth: bool = False,
        auth_port: int = 0,
        **settings: Any,
    ) -> None:
        if pki is None:
            if certdir is None:
                raise ValueError("FakeGigaChat needs a TestPKI or a certdir")
            pki = make_test_pki(certdir)
        self.pki = pki
        self.cert = cert
        self.host = host
        self._want_port = port
        self._want_auth_port = auth_port
        self.separate_auth = separate_auth
        self.settings = FakeSettings(key=key or make_test_key())
        self.configure(**settings)
        self.state = FakeState()
        self._ssl = self._ssl_context(cert)
        self._servers: dict[str, _HTTPServer] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        self._stopping = threading.Event()
        self.auth_port: Optional[int] = None
        self.port: Optional[int] = None

    # -- lifecycle
    def start(self) -> "FakeGigaChat":
        role = "api" if self.separate_auth else "both"
        self.port = self._serve(role, self._want_port)
        if self.separate_auth:
            self.auth_port = self._serve("auth", self._want_auth_port)
        else:
            self.auth_port = self.port
        return self

    def stop(self) -> None:
        self._stopping.set()
        for role in list(self._servers):
            self._unserve(role)
        # Handler threads block on keep-alive reads; shutting their sockets down ends them.
        with self._sockets_lock:
            socks = list(self._sockets)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "FakeGigaChat":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _ssl_context(self, cert: str) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        certfile, keyfile = self.pki.server_pair(cert)
        ctx.load_cert_chain(str(certfile), str(keyfile))
        # Say http/1.1 explicitly so no client is tempted into HTTP/2 (the recorded traffic is 1.1).
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def _serve(self, role: str, port: int) -> int:
        server = _HTTPServer(self, role, (self.host, port), self._ssl)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"fake-gigachat-{role}", daemon=True
        )
        self._servers[role] = server
        self._threads[role] = thread
        thread.start()
        return server.server_address[1]

    def _unserve(self, role: str) -> None:
        server = self._servers.pop(role, None)
        thread = self._threads.pop(role, None)
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._sockets_lock:
            (self._sockets.add if add else self._sockets.discard)(sock)

    # -- addresses
    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}{API_PREFIX}"

    @property
    def auth_url(self) -> str:
        return f"https://{self.host}:{self.auth_port}{OAUTH_PATH}"

    @property
    def control_url(self) -> str:
        return f"https://{self.host}:{self.port}{CONTROL_PATH}"

    @property
    def ca_file(self) -> str:
        return str(self.pki.ca_cert)

    def env(self) -> dict[str, str]:
        """The GIGACHAT_* settings that point a client at this fake."""
        env = {
            "GIGACHAT_BASE_URL": self.base_url,
            "GIGACHAT_AUTH_URL": self.auth_url,
            "GIGACHAT_CA_BUNDLE_FILE": self.ca_file,
            "GIGACHAT_CREDENTIALS": self.settings.key,
            "GIGACHAT_SCOPE": self.settings.scope,
        }
        if self.settings.user is not None:
            env["GIGACHAT_USER"] = self.settings.user
        if self.settings.password is not None:
            env["GIGACHAT_PASSWORD"] = self.settings.password
        return env

    # -- test controls
    def configure(self, **settings: Any) -> None:
        """Change settings by name (unknown names are an error, to catch typos in tests)."""
        for name, value in settings.items():
            if not hasattr(FakeSettings, name) and name not in {f.name for f in dataclasses.fields(FakeSettings)}:
                raise AttributeError(f"FakeSettings has no field {name!r}")
            setattr(self.settings, name, value)

    def inject(self, path: str, kind: str = "none", *, times: int = 1, **params: Any) -> Fault:
        """Queue a fault for the next ``times`` requests to ``path`` (-1: until cleared).

        ``path``: "chat", "oauth", "*", "/models", "/api/v1/embeddings", ... (see fault_key).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {sorted(FAULT_KINDS)}")
        if "sse" in params:
            _sse_flags(params["sse"])  # validate early, in the test's thread
        fault = Fault(kind, dict(params), times)
        with self.state.lock:
            self.state.faults.setdefault(fault_key(path), collections.deque()).append(fault)
        return fault

    def clear_faults(self, path: Optional[str] = None) -> None:
        with self.state.lock:
            if path is None:
                self.state.faults.clear()
            else:
                self.state.faults.pop(fault_key(path), None)

    def revoke_tokens(self) -> None:
        """Invalidate every issued token: the next API call with any of them gets 401."""
        with self.state.lock:
            self.state.tokens.clear()

    def add_token(self, token: Optional[str] = None, lifetime: Optional[float] = None) -> str:
        """Register a pre-issued access token (GIGACHAT_ACCESS_TOKEN); lifetime None: never expires."""
        token = token or _new_token(self.settings.token_length)
        with self.state.lock:
            self.state.tokens[token] = None if lifetime is None else time.time() + lifetime
            self.state.issued_tokens.append(token)
        return token

    def oauth_down(self, mode: str = "503", count: Optional[int] = None) -> None:
        """Make the OAuth endpoint fail for ``count`` calls (None: until ``oauth_up()``).

        mode: "503" (JSON {code,message}), "html" (503 gateway page), "reset" (TCP reset after the
        request), "refuse" (nothing listens: only with ``separate_auth=True``).
        """
        if mode not in ("503", "html", "reset", "refuse"):
            raise ValueError(f"unknown oauth_down mode {mode!r}")
        if mode == "refuse":
            if not self.separate_auth:
                raise ValueError("oauth_down('refuse') needs separate_auth=True (one port serves the API too)")
            if count is not None:
                raise ValueError("oauth_down('refuse') lasts until oauth_up()")
            self._unserve("auth")
        with self.state.lock:
            self.state.oauth_down_mode = mode
            self.state.oauth_down_remaining = count

    def oauth_up(self) -> None:
        with self.state.lock:
            mode = self.state.oauth_down_mode
            self.state.oauth_down_mode = None
            self.state.oauth_down_remaining = None
        if mode == "refuse" and "auth" not in self._servers and not self._stopping.is_set():
            assert self.auth_port is not None
            self._serve("auth", self.auth_port)

    def reset_stats(self) -> None:
        """Forget recorded requests and counters (tokens, files and faults stay)."""
        st = self.state
        with st.changed:
            st.requests.clear()
            st.oauth_calls.clear()
            st.password_calls.clear()
            st.unauthorized = 0
            st.chat_max_in_flight = st.chat_in_flight
            st.chat_spans.clear()
            st.connections_accepted = 0
            st.disconnects.clear()
            st.tls_failures.clear()

    def wait_for(self, predicate: Callable[[FakeState], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate(state)`` is true; False on timeout."""
        with self.state.changed:
            return self.state.changed.wait_for(lambda: predicate(self.state), timeout)

    def snapshot(self) -> dict[str, Any]:
        return self.state.snapshot()

    def secrets(self) -> list[str]:
        """Strings a client of the fake must never reveal: the key, its secret half, password, tokens."""
        out = [self.settings.key]
        try:
            decoded = base64.b64decode(self.settings.key, validate=True).decode("utf-8")
            if ":" in decoded:
                out.append(decoded.split(":", 1)[1])
        except (binascii.Error, UnicodeDecodeError):
            pass
        if self.settings.password:
            out.append(self.settings.password)
        with self.state.lock:
            out.extend(self.state.issued_tokens)
        return [s for s in out if s]

    # -- what the fake will answer (tests use these to compute expectations)
    def reply_for(self, messages: list[dict[str, Any]], reply: Optional[str] = None) -> str:
        """The assistant text the fake produces for ``messages``."""
        if reply is not None:
            return reply
        if self.settings.reply is not None:
            return self.settings.reply
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                content = m.get("content", "")
                return self.settings.reply_prefix + (content if isinstance(content, str) else _dumps(content).decode())
        return self.settings.reply_prefix.rstrip()

    def reply_chunks(self, text: str) -> list[str]:
        return split_text(text, self.settings.chunks)

    def known_model(self, name: str) -> bool:
        base = name.split(":", 1)[0]
        names = {m for m, _ in MODELS} | set(self.settings.extra_models)
        return name in names or base in names


def make_test_key() -> str:
    """A fresh authorization key shaped like the real ones: base64("<client id>:<client secret>")."""
    raw = f"{uuid.uuid4()}:{uuid.uuid4()}".encode()
    return base64.b64encode(raw).decode()


def _new_token(length: int) -> str:
    # Opaque like the real JWE tokens: five dot-separated base64url parts, random throughout so a
    # secret scan can never match by accident.
    alphabet = string.ascii_letters + string.digits + "-_"
    sizes = [max(8, int(length * f)) for f in (0.08, 0.28, 0.02, 0.56)]
    sizes.append(max(8, length - sum(sizes) - 4))
    return ".".join("".join(secrets.choice(alphabet) for _ in range(n)) for n in sizes)


def _sse_flags(spec: Any) -> frozenset[str]:
    if not spec:
        return frozenset()
    flags = frozenset(spec) if isinstance(spec, (list, tuple, set, frozenset)) else frozenset(
        f for f in str(spec).replace(",", "+").split("+") if f and f != "lf"
    )
    unknown = flags - SSE_FLAGS
    if unknown:
        raise ValueError(f"unknown SSE flags {sorted(unknown)}; known: {sorted(SSE_FLAGS)}")
    return flags


def _parse_bench(spec: Optional[str]) -> Optional[tuple[int, int, float]]:
    """"N:S[:P]" -> (chunks, bytes per chunk, pacing ms)."""
    if not spec:
        return None
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"bench spec {spec!r} is not N:S[:P]")
    n, s = int(parts[0]), int(parts[1])
    p = float(parts[2]) if len(parts) == 3 else 0.0
    if n < 0 or s < 0 or p < 0:
        raise ValueError(f"bench spec {spec!r} has a negative value")
    return n, s, p


def _awkward_cuts(event: bytes) -> list[int]:
    """Cut positions inside one SSE event that break naive parsers (see SSE_FLAGS "split")."""
    cuts = {3, len(event) // 2, len(event) - 1}  # inside "data", mid-JSON, between the two line ends
    leads = [i for i, b in enumerate(event) if b >= 0xC0]  # first bytes of multi-byte characters
    if leads:
        cuts.add(leads[0] + 1)  # between the first byte of a character and its continuation
        cuts.add(leads[-1] + 1)
        if len(leads) > 2:
            cuts.add(leads[len(leads) // 2] + 2 if event[leads[len(leads) // 2]] >= 0xE0 else leads[len(leads) // 2] + 1)
    return sorted(c for c in cuts if 0 < c < len(event))


# --------------------------------------------------------------------------------------------------
# HTTP plumbing


class _ClientGone(Exception):
    """The client closed the connection while we were answering."""


class _Abort(Exception):
    """We ended the connection on purpose (reset, abrupt truncation)."""


@dataclass
class _Data:
    data: bytes


@dataclass
class _Wait:
    seconds: float


@dataclass
class _Reset:
    pass


@dataclass
class _End:
    abrupt: bool = False  # True: close TCP without the terminating zero-length chunk


@dataclass
class _Endless:
    line: bytes  # one data line, written over and over
    total: int  # stop after this many bytes


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # load tests open hundreds of connections at once

    def __init__(self, fake: FakeGigaChat, role: str, address: tuple[str, int], ctx: ssl.SSLContext) -> None:
        self.fake = fake
        self.role = role  # "both", "api" or "auth"
        self.ssl_context = ctx
        super().__init__(address, _Handler)

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        # One thread per connection, and the TLS handshake happens in that thread: a client that
        # stalls or fails its handshake must not hold up accept().
        # Real API front ends send small writes at once; without this, Nagle's algorithm delays the body
        # written after a response's head by up to 40 ms.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        st = self.fake.state
        with st.changed:
            st.connections_accepted += 1
            st.connections_open += 1
            conn_id = st.connections_accepted
            st.changed.notify_all()
        threading.Thread(
            target=self._serve_connection, args=(request, client_address, conn_id), daemon=True
        ).start()

    def _serve_connection(self, raw: socket.socket, client_address: Any, conn_id: int) -> None:
        st = self.fake.state
        tls: Optional[ssl.SSLSocket] = None
        try:
            raw.settimeout(10)
            try:
                tls = self.ssl_context.wrap_socket(raw, server_side=True)
            except (ssl.SSLError, OSError) as e:
                with st.changed:
                    st.tls_failures.append({"t": time.monotonic(), "conn": conn_id, "error": str(e)})
                    st.changed.notify_all()
                return
            tls.settimeout(None)
            self.fake._track(tls, True)
            try:
                _Handler(tls, client_address, self, conn_id)
            except (OSError, ssl.SSLError, _ClientGone, _Abort):
                pass  # the peer went away between requests, or we reset it on purpose
        except Exception:  # pragma: no cover - a bug in the fake; show it, keep serving
            traceback.print_exc()
        finally:
            if tls is not None:
                self.fake._track(tls, False)
                try:
                    tls.close()
                except OSError:
                    pass
            try:
                raw.close()
            except OSError:
                pass
            with st.changed:
                st.connections_open -= 1
                st.changed.notify_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, chunked streams
    server_version = "SynGX"  # the recorded Server header
    sys_version = ""
    server: _HTTPServer
    connection: ssl.SSLSocket

    def version_string(self) -> str:
        return self.server_version

    def __init__(self, request: Any, client_address: Any, server: _HTTPServer, conn_id: int) -> None:
        self.conn_id = conn_id
        self.fake = server.fake
        self.rec: Optional[RecordedRequest] = None
        self._stream_written = 0
        self._event_ends: collections.deque[tuple[int, str]] = collections.deque()
        super().__init__(request, client_address, server)

    # BaseHTTPRequestHandler logs every request to stderr; we record instead.
    def log_message(self, format: str, *args: Any) -> None:
        if self.fake.settings.verbose:
            sys.stderr.write(f"fake-gigachat: conn {self.conn_id}: {format % args}\n")

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    # -- request
    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size_line = self.rfile.readline(1024)
                if not size_line:
                    raise _ClientGone()
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        path = split.path
        body = self._read_body()
        if path == CONTROL_PATH:
            self._control(body)
            return

        role = self.server.role
        route = "oauth" if path == OAUTH_PATH else fault_key(path) if path.startswith(API_PREFIX + "/") else path
        rec = RecordedRequest(
            t=time.monotonic(), wall=time.time(), conn=self.conn_id, method=self.command, path=path,
            route=route, query=parse_qs(split.query), header_list=list(self.headers.items()), body=body,
        )
        self._parse_body(rec)
        self.rec = rec
        self._stream_written = 0
        self._event_ends.clear()
        self.fake.state._add_request(rec)
        try:
            if route == "oauth" and role in ("both", "auth"):
                self._oauth(rec)
            elif route != "oauth" and (path.startswith(API_PREFIX + "/") or path == V2_CHAT_PATH) and role in ("both", "api"):
                self._api(rec)
            else:
                self._send_json(404, {"status": 404, "message": "Not found"}, error=True)
        except _ClientGone:
            self.close_connection = True
            self.fake.state._disconnect(rec, self.conn_id, "write")
        except _Abort:
            self.close_connection = True
        except (ssl.SSLError, OSError) as e:
            self.close_connection = True
            rec.error = repr(e)
            self.fake.state._disconnect(rec, self.conn_id, "write")
        except Exception as e:  # a bug in the fake: answer 500 if we still can, and show it
            self.close_connection = True
            rec.error = "".join(traceback.format_exception(e))
            sys.stderr.write(f"fake-gigachat: error handling {self.command} {path}:\n{rec.error}")
            if rec.status is None:
                try:
                    self._send_json(500, {"status": 500, "message": "fake internal error"}, error=True)
                except Exception:
                    pass
        finally:
            rec.done = True
            self.fake.state._notify()
            if self.fake.settings.verbose:
                sys.stderr.write(
                    f"fake-gigachat: conn {self.conn_id} {self.command} {path} -> {rec.status}"
                    f"{' fault=' + rec.fault if rec.fault else ''}\n"
                )

    def _parse_body(self, rec: RecordedRequest) -> None:
        ctype = (rec.header("Content-Type") or "").lower()
        if not rec.body:
            return
        if "json" in ctype or rec.body[:1] in (b"{", b"["):
            try:
                rec.json = json.loads(rec.body)
            except (ValueError, UnicodeDecodeError):
                rec.json = None
        elif "x-www-form-urlencoded" in ctype:
            rec.form = parse_qs(rec.body.decode("utf-8", "replace"), keep_blank_values=True)
        elif "multipart/form-data" in ctype:
            rec.parts = _parse_multipart(rec.header("Content-Type") or "", rec.body)

    # -- response primitives
    def _common_headers(self) -> None:
        rec = self.rec
        if rec is not None and rec.route != "oauth":
            # The API returns both ids on every response, generated when the client sent none (§3).
            self.send_header("X-Request-Id", rec.header("X-Request-ID") or str(uuid.uuid4()))
            self.send_header("X-Session-Id", rec.header("X-Session-ID") or str(uuid.uuid4()))

    def _send_bytes(
        self, status: int, body: bytes, content_type: str, headers: Optional[dict[str, str]] = None,
        *, body_limit: Optional[int] = None,
    ) -> None:
        if self.rec is not None:
            self.rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers()
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self._end_headers()
        self._write(body if body_limit is None else body[:body_limit])

    def _send_json(self, status: int, obj: Any, headers: Optional[dict[str, str]] = None, *, error: bool = False) -> None:
        # Error bodies carry a charset on the real API (§8.1), success bodies do not.
        ctype = "application/json; charset=utf-8" if error else "application/json"
        self._send_bytes(status, _dumps(obj), ctype, headers)

    def _send_api_error(self, status: int, message: str, headers: Optional[dict[str, str]] = None) -> None:
        self._send_json(status, {"status": status, "message": message}, headers, error=True)

    def _send_html(self, status: int) -> None:
        reason = self.responses.get(status, ("Error",))[0]
        page = _GATEWAY_HTML.format(status=status, reason=reason).encode()
        self._send_bytes(status, page, "text/html")

    def _end_headers(self) -> None:
        try:
            self.end_headers()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as e:
            raise _ClientGone() from e

    def _write(self, data: bytes) -> None:
        if not data:
            return
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as e:
            raise _ClientGone() from e

    def _start_chunked(self, status: int, content_type: str) -> None:
        if self.rec is not None:
            self.rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self._common_headers()
        self._end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self._write(b"%x\r\n%s\r\n" % (len(data), data))
        self._stream_written += len(data)
        # Credit each SSE event once its last byte has gone out (matters for "split" streams).
        rec = self.rec
        while self._event_ends and self._event_ends[0][0] <= self._stream_written:
            _, content = self._event_ends.popleft()
            if rec is not None:
                rec.events_sent += 1
                rec.sent_content += content

    def _end_chunks(self) -> None:
        self._write(b"0\r\n\r\n")

    def _reset(self) -> None:
        """Abort the TCP connection with a RST (SO_LINGER 0), like a crashed gateway."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # rfile holds a reference that would keep the fd open; close it first so that the
            # close below really releases the fd. No TLS close_notify: the client sees ECONNRESET.
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True
        raise _Abort()

    def _close_abruptly(self) -> None:
        """Close with a FIN but no TLS close_notify and no HTTP terminator: a cut-off body."""
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True
        raise _Abort()

    def _peer_closed(self) -> bool:
        # Mid-response an HTTP/1.1 client (no pipelining) has nothing to send, so readable means
        # it closed. Peek at the raw bytes first; if there are some, let TLS read them (a
        # close_notify alert reads as EOF).
        try:
            data = socket.socket.recv(self.connection, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if not data:
            return True
        self.connection.setblocking(False)
        try:
            return self.connection.recv(1) == b""
        except ssl.SSLWantReadError:
            return False
        except (ssl.SSLError, OSError):
            return True
        finally:
            self.connection.setblocking(True)

    def _wait(self, seconds: float) -> None:
        """Sleep, but notice a client that leaves meanwhile (and the fake being stopped)."""
        end = time.monotonic() + seconds
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            if self.fake._stopping.is_set():
                raise _Abort()
            try:
                readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.05))
            except (OSError, ValueError):
                raise _ClientGone()
            if readable and self._peer_closed():
                self.fake.state._disconnect(self.rec, self.conn_id, "wait")
                raise _Abort()

    # -- faults that look the same on every endpoint
    def _apply_fault(self, fault: Optional[Fault], rec: RecordedRequest, *, oauth: bool = False) -> bool:
        """Apply a fault that happens before the normal answer. True if it answered the request."""
        if fault is None:
            return False
        rec.fault = fault.kind if fault.kind != "none" else rec.fault
        kind = fault.kind
        if kind == "status":
            status = int(fault.get("status", 500))
            headers = fault.get("headers")
            if "body" in fault.params:
                body = fault.get("body")
                data = body.encode() if isinstance(body, str) else _dumps(body)
                self._send_bytes(status, data, fault.get("content_type", "application/json; charset=utf-8"), headers)
            else:
                message = fault.get("message") or self.responses.get(status, ("Error",))[0]
                body = {"code": status, "message": message} if oauth else {"status": status, "message": message}
                self._send_json(status, body, headers, error=True)
            return True
        if kind == "html":
            self._send_html(int(fault.get("status", 502)))
            return True
        if kind == "payment_required":
            self._send_api_error(402, fault.get("message") or fake_v2.PAYMENT_REQUIRED_MESSAGE)
            return True
        if kind == "stop_event":
            status = int(fault.get("status", 423))
            default = fake_v2.STOP_EVENT_423_MESSAGE if status == 423 else fake_v2.STOP_EVENT_403_MESSAGE
            self._send_api_error(status, fault.get("message") or default)
            return True
        if kind == "unauthorized":
            self._unauthorized()
            return True
        if kind == "rate_limit":
            retry_after = fault.get("retry_after", 1)
            headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
            body = fault.get("body", "")
            data = body.encode() if isinstance(body, str) else _dumps(body)
            self._send_bytes(429, data, fault.get("content_type", "application/json; charset=utf-8"), headers)
            return True
        if kind == "reset":
            self._reset()
        if kind == "stall":
            self._wait(float(fault.get("seconds", 5)))
        return False

    def _unauthorized(self, message: str = "Token has expired") -> None:
        with self.fake.state.lock:
            self.fake.state.unauthorized += 1
        self._send_api_error(401, message)

    # -- OAuth (§2.1) and password auth (§2.2)
    def _oauth(self, rec: RecordedRequest) -> None:
        fake, s = self.fake, self.fake.settings
        if rec.method != "POST":
            self._send_json(405, {"code": 405, "message": "Method Not Allowed"}, error=True)
            return
        down = fake.state._oauth_down()
        if down is not None:
            rec.fault = f"oauth_down:{down}"
            if down in ("reset", "refuse"):  # "refuse": a kept-alive connection that slipped through
                self._reset()
            elif down == "html":
                self._send_html(503)
            else:
                self._send_json(503, {"code": 503, "message": "Service Unavailable"}, error=True)
            return
        if self._apply_fault(fake.state._pop_fault("oauth"), rec, oauth=True):
            return
        if s.oauth_delay:
            self._wait(s.oauth_delay)

        # 401 bodies from this host were never recorded; {code,message} is the host's shape (§8.2).
        auth = rec.header("Authorization") or ""
        if auth.startswith("Bearer "):
            self._send_json(401, {"code": 6, "message": "Authorization must be 'Basic <authorization key>', not Bearer"}, error=True)
            return
        if auth != f"Basic {s.key}":
            self._send_json(401, {"code": 6, "message": "credentials doesn't match db data"}, error=True)
            return
        if not _UUID_RE.match(rec.header("RqUID") or ""):
            self._send_json(400, {"code": 1, "message": "RqUID header is missing or is not a UUID"}, error=True)
            return
        scope = (rec.form.get("scope") or [""])[0]
        if not scope:
            self._send_json(400, {"code": 5, "message": "scope is empty"}, error=True)
            return
        if scope not in SCOPES:
            self._send_json(400, {"code": 1, "message": "scope data format invalid"}, error=True)
            return
        if scope != s.scope:
            self._send_json(400, {"code": 7, "message": "scope from db not fully includes consumed scope"}, error=True)
            return
        self._send_json(200, self._issue_token(s.token_format))

    def _issue_token(self, fmt: str) -> dict[str, Any]:
        s, st = self.fake.settings, self.fake.state
        token = _new_token(s.token_length)
        expires = time.time() + s.token_lifetime
        with st.lock:
            st.tokens[token] = expires
            st.issued_tokens.append(token)
        # Only the reported expiry moves (clock skew as the client sees it); the fake keeps honouring
        # the token until `expires`.
        reported = expires + s.expiry_offset
        if fmt == "access_token":
            return {"access_token": token, "expires_at": int(reported * 1000)}
        if fmt == "tok_ms":
            return {"tok": token, "exp": int(reported * 1000)}
        if fmt == "tok_s":
            return {"tok": token, "exp": int(reported)}
        raise ValueError(f"unknown token_format {fmt!r}")

    def _password_token(self, rec: RecordedRequest) -> None:
        s = self.fake.settings
        expected = "Basic " + base64.b64encode(f"{s.user}:{s.password}".encode()).decode()
        if s.user is None or rec.header("Authorization") != expected:
            self._send_api_error(401, "Unauthorized")
            return
        fmt = s.token_format if s.token_format.startswith("tok") else "tok_ms"
        self._send_json(200, self._issue_token(fmt))

    # -- the v1 API (§4)
    def _api(self, rec: RecordedRequest) -> None:
        fake, st = self.fake, self.fake.state
        route, method = rec.route, rec.method
        if route == "/token" and method == "POST":
            if not self._apply_fault(st._pop_fault("/token"), rec):
                self._password_token(rec)
            return

        auth = rec.header("Authorization") or ""
        if not auth.startswith("Bearer "):
            self._unauthorized("Unauthorized")
            return
        rec.token = auth[len("Bearer "):]
        with st.lock:
            expiry = st.tokens.get(rec.token, 0.0)
        if rec.token not in st.tokens or (expiry is not None and expiry <= time.time()):
            self._unauthorized()
            return

        if route == "/chat/completions" and method == "POST":
            self._chat(rec)
            return
        if route == V2_CHAT_PATH:
            if method == "POST":
                self._chat(rec, v2=True)
            else:
                self._send_api_error(405, "Method Not Allowed")
            return
        if self._apply_fault(st._pop_fault(route), rec):
            return
        parts = route.strip("/").split("/")
        if route == "/models" and method == "GET":
            self._send_json(200, {"object": "list", "data": [_model(m, t) for m, t in MODELS]})
        elif parts[0] == "models" and len(parts) == 2 and method == "GET":
            name = unquote(parts[1])
            types = dict(MODELS)
            if name in types:
                self._send_json(200, _model(name, types[name]))
            else:
                self._send_api_error(404, "No such model")
        elif route == "/embeddings" and method == "POST":
            self._embeddings(rec)
        elif route == "/tokens/count" and method == "POST":
            self._tokens_count(rec)
        elif route == "/balance" and method == "GET":
            if fake.settings.scope == "GIGACHAT_API_CORP":
                self._send_api_error(403, "Permission denied")  # pay-as-you-go accounts (§4.5)
            else:
                self._send_json(200, {"balance": [
                    {"usage": "embeddings", "value": 5000000},
                    {"usage": "GigaChat", "value": 900000},
                    {"usage": "GigaChat-Pro", "value": 991490},
                    {"usage": "GigaChat-Max", "value": 450000},
                ]})
        elif route == "/ai/check" and method == "POST":
            self._ai_check(rec)
        elif route == "/functions/convert" and method == "POST":
            # The SDK posts the OpenAPI document as the raw body, without a Content-Type (api/tools.py).
            converted = fake_v2.convert_functions(rec.body.decode("utf-8", "replace"))
            if converted is None:
                self._send_api_error(422, "Invalid params: no operations found in the OpenAPI document")  # guess
            else:
                self._send_json(200, converted)
        elif parts[0] == "files":
            self._files(rec, parts, method)
        else:
            self._send_api_error(404, "Not found")

    def _ai_check(self, rec: RecordedRequest) -> None:
        # Request {"input", "model"} (SDK api/tools.py); the model must be an "aicheck" one (recorded
        # model list). Status and message for a missing model are guesses.
        body = self._require_json(rec)
        if body is None:
            return
        text, model = body.get("input"), body.get("model")
        if not isinstance(model, str) or not model:
            self._send_api_error(422, "Invalid params: model is required")
        elif model not in fake_v2.AI_CHECK_MODELS:
            self._send_api_error(404, "No such model")
        elif not isinstance(text, str):
            self._send_api_error(422, "Invalid params: input must be a string")
        else:
            self._send_json(200, fake_v2.ai_check(text))

    def _require_json(self, rec: RecordedRequest) -> Optional[dict[str, Any]]:
        if not isinstance(rec.json, dict):
            self._send_api_error(400, "Your request contains invalid JSON syntax.")
            return None
        return rec.json

    def _embeddings(self, rec: RecordedRequest) -> None:
        body = self._require_json(rec)
        if body is None:
            return
        model, inputs = body.get("model"), body.get("input")
        if not isinstance(model, str) or not model:
            self._send_api_error(422, "Invalid params: model is required")
            return
        if dict(MODELS).get(model) != "embedder":
            self._send_api_error(404, "No such model")
            return
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            self._send_api_error(422, "Invalid params: input must be a list of strings")
            return
        dim = self.fake.settings.embedding_dim
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(model, text, dim), "usage": {"prompt_tokens": _tokens(text)}}
            for i, text in enumerate(inputs)
        ]
        self._send_json(200, {"object": "list", "model": model, "data": data})

    def _tokens_count(self, rec: RecordedRequest) -> None:
        body = self._require_json(rec)
        if body is None:
            return
        model, inputs = body.get("model"), body.get("input")
        if not isinstance(model, str) or not self.fake.known_model(model):
            self._send_api_error(404, "No such model")
            return
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            self._send_api_error(422, "Invalid params: input must be a list of strings")
            return
        self._send_json(200, [{"object": "tokens", "tokens": _tokens(t), "characters": len(t)} for t in inputs])

    def _files(self, rec: RecordedRequest, parts: list[str], method: str) -> None:
        st = self.fake.state
        if len(parts) == 1 and method == "POST":
            file_part = next((p for p in rec.parts if p["name"] == "file"), None)
            if file_part is None:
                self._send_api_error(400, "file is required")
                return
            purpose_part = next((p for p in rec.parts if p["name"] == "purpose"), None)
            purpose = purpose_part["data"].decode() if purpose_part else "general"
            fid = str(uuid.uuid4())
            meta = {
                "id": fid, "object": "file", "bytes": len(file_part["data"]), "created_at": int(time.time()),
                "filename": file_part.get("filename") or "file", "purpose": purpose, "access_policy": "private",
            }
            with st.lock:
                st.files[fid] = {"meta": meta, "data": file_part["data"], "mime": file_part.get("content_type") or "application/octet-stream"}
            self._send_json(200, meta)
            return
        if len(parts) == 1 and method == "GET":
            with st.lock:
                metas = [f["meta"] for f in st.files.values()]
            self._send_json(200, {"data": metas})
            return
        fid = unquote(parts[1]) if len(parts) > 1 else ""
        with st.lock:
            entry = st.files.get(fid)
        if entry is None:
            self._send_api_error(404, "File not found")
            return
        if len(parts) == 2 and method == "GET":
            self._send_json(200, entry["meta"])
        elif len(parts) == 3 and parts[2] == "delete" and method == "POST":
            with st.lock:
                st.files.pop(fid, None)
            self._send_json(200, {"id": fid, "deleted": True, "object": "file"})
        elif len(parts) == 3 and parts[2] == "content" and method == "GET":
            self._send_bytes(200, entry["data"], entry["mime"])
        else:
            self._send_api_error(404, "Not found")

    # -- chat (§5, §6)
    def _chat(self, rec: RecordedRequest, v2: bool = False) -> None:
        """A v1 chat (§5, §6), or with ``v2`` a v2 one (§7, fake_v2): checks, quota, faults, answer."""
        fake, st, s = self.fake, self.fake.state, self.fake.settings
        body = self._require_json(rec)
        if body is None:
            return
        rec.stream = bool(body.get("stream"))
        if v2:
            problem = fake_v2.check_request(body, fake.known_model)
            if problem is not None:
                self._send_api_error(*problem)
                return
        model = body.get("model")
        bench_spec = None
        if isinstance(model, str) and model.startswith("bench:"):
            bench_spec = model[len("bench:"):]
        bench_spec = bench_spec or rec.header("X-Fake-Bench") or s.bench
        try:
            bench = None if v2 else _parse_bench(bench_spec)
        except ValueError as e:
            self._send_api_error(422, f"Invalid params: {e}")
            return
        if not isinstance(model, str) or not model:
            # The API requires a model (§5.1); the exact message is not recorded.
            self._send_api_error(422, "Invalid params: model is required")
            return
        if bench is None and not fake.known_model(model):
            self._send_api_error(404, "No such model")
            return
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            self._send_api_error(422, "Invalid params: messages must be a non-empty list of objects")
            return
        if not st._chat_begin(s.concurrency_limit):
            # The real API's answer to going over the concurrency quota (§11): 429, no body.
            rec.fault = "concurrency_limit"
            self._send_bytes(429, b"", "application/json; charset=utf-8")
            return
        start = time.monotonic()
        try:
            fault = st._pop_fault(V2_CHAT_PATH if v2 else "/chat/completions")
            if self._apply_fault(fault, rec):
                return
            if bench is not None:
                self._bench(rec, bench, body)
                return
            delay = float(fault.get("first_byte_delay", s.first_byte_delay)) if fault else s.first_byte_delay
            if delay:
                self._wait(delay)
            if fault is not None and fault.kind == "error_event" and not (v2 and rec.stream):
                # Only a v2 stream has an error event; anything else fails before the reply (§8.1).
                status = int(fault.get("status_code", 500))
                self._send_api_error(status, str(fault.get("message") or self.responses.get(status, ("Error",))[0]))
                return
            if v2:
                self._chat_v2(rec, body, fault)
                return
            plan = self._plan(body, fault)
            rec.reply = "".join(plan["chunks"])
            rec.usage = plan["usage"]
            if rec.stream:
                self._stream(rec, plan, fault)
            else:
                self._json_chat(rec, plan, fault)
        finally:
            st._chat_end(start)

    def _plan(self, body: dict[str, Any], fault: Optional[Fault]) -> dict[str, Any]:
        """What to answer: the resolved model, text pieces or a function call, usage."""
        s, fake = self.fake.settings, self.fake
        messages = body["messages"]
        model = body["model"].split(":", 1)[0] + ":" + s.model_version
        prompt_tokens = sum(_tokens(m.get("content") if isinstance(m.get("content"), str) else "") for m in messages) + 1
        created = s.created_at if s.created_at is not None else int(time.time())
        plan: dict[str, Any] = {"model": model, "created": created, "function_call": None}

        functions = body.get("functions")
        fc = body.get("function_call")
        blacklist = fault is not None and fault.kind == "blacklist"
        # With "auto", a turn that brings a function's result gets a text answer, as from the real model.
        answered = fc == "auto" and isinstance(messages[-1], dict) and messages[-1].get("role") == "function"
        if isinstance(functions, list) and functions and (fc == "auto" or isinstance(fc, dict)) and not blacklist and not answered:
            name = fc.get("name") if isinstance(fc, dict) else functions[0].get("name")
            spec = next((f for f in functions if isinstance(f, dict) and f.get("name") == name), None)
            if spec is None:
                name, spec = functions[0].get("name"), functions[0]
            arguments = dict(fc.get("partial_arguments") or {}) if isinstance(fc, dict) else {}
            params = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
            props = params.get("properties") if isinstance(params.get("properties"), dict) else {}
            for prop in params.get("required") or list(props)[:1]:
                arguments.setdefault(prop, _example_value((props.get(prop) or {}).get("type")))
            plan["function_call"] = {"name": name, "arguments": arguments}
            plan["functions_state_id"] = str(uuid.uuid4())
            plan["finish_reason"] = "function_call"
            plan["chunks"] = [""]
            completion = 1 + len(_dumps(arguments)) // 4
        else:
            reply = fault.get("reply", fake_v2.BLACKLIST_TEXT if blacklist else None) if fault else None
            pieces = fault.get("reply_chunks") if fault else None
            if pieces is not None:
                text = "".join(pieces)
            else:
                last = messages[-1]
                if reply is None and s.reply is None and last.get("role") == "function":
                    reply = f"Function {last.get('name')} returned: {last.get('content')}"
                text = fake.reply_for(messages, reply)
                pieces = fake.reply_chunks(text)
            plan["chunks"] = list(pieces)
            plan["text"] = text
            plan["finish_reason"] = (fault.get("finish_reason") if fault else None) or ("blacklist" if blacklist else "stop")
            completion = max(1, _tokens(text))
        plan["usage"] = {
            "prompt_tokens": prompt_tokens, "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion, "precached_prompt_tokens": 0,
        }
        return plan

    def _chat_v2(self, rec: RecordedRequest, body: dict[str, Any], fault: Optional[Fault]) -> None:
        """Answer a checked v2 chat: the JSON body (recorded), or named SSE events (recorded, and
        fake_v2 for what was not). Generated images are stored so GET /files/{id}/content finds them."""
        fake, s = self.fake, self.fake.settings
        created = s.created_at if s.created_at is not None else int(time.time())
        plan = fake_v2.plan(
            body, reply=s.reply, reply_prefix=s.reply_prefix, chunks=s.chunks, model_version=s.model_version,
            created_at=created, fault=fault,
        )
        for f in plan.files:
            data = fake_v2.fake_jpeg(f["id"], s.image_bytes)
            meta = {"id": f["id"], "object": "file", "bytes": len(data), "created_at": created,
                    "filename": f"{f['id']}.jpg", "purpose": "general", "access_policy": "private"}  # guess
            with fake.state.lock:
                fake.state.files[f["id"]] = {"meta": meta, "data": data, "mime": f["mime"]}
        response = fake_v2.response(plan)
        rec.v2_response = response
        rec.reply = plan.text
        rec.usage = plan.usage
        kind = fault.kind if fault else None
        evs = fake_v2.events(plan, fault_kind=kind, error_after=fault.get("chunks") if fault else None)
        rec.v2_events = [(e.name, e.data) for e in evs]
        if not rec.stream:
            # recorded: success bodies of the v2 endpoint say "application/json; charset=utf-8"
            self._send_reply_json(rec, _dumps(response), fault, "application/json; charset=utf-8",
                                  b'{"messages":[{"role":"assistant","content":[{"text":"')
            return
        flags, eol, prefix = self._sse_framing(fault)
        frames = [(e.frame(eol, space="nospace" not in flags), e.text) for e in evs]
        malformed = (b"event: " + fake_v2.EVENT_DELTA.encode() + eol + prefix
                     + b'{"messages":[{"role":"assistant","content":[{"text":"broken' + eol + eol)
        self._send_frames(rec, frames, b"", fault, flags, eol, prefix, malformed)

    def _json_chat(self, rec: RecordedRequest, plan: dict[str, Any], fault: Optional[Fault]) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(plan["chunks"])}
        if plan["function_call"] is not None:
            message["function_call"] = plan["function_call"]
            message["functions_state_id"] = plan["functions_state_id"]
        body = _dumps({
            "choices": [{"index": 0, "finish_reason": plan["finish_reason"], "message": message}],
            "created": plan["created"], "model": plan["model"], "object": "chat.completion", "usage": plan["usage"],
        })
        self._send_reply_json(rec, body, fault, "application/json",
                              b'{"choices":[{"index":0,"message":{"role":"assistant","content":"')

    def _send_reply_json(self, rec: RecordedRequest, body: bytes, fault: Optional[Fault], ctype: str, endless_head: bytes) -> None:
        """A non-stream chat answer, with a mid-body fault applied if there is one."""
        kind = fault.kind if fault else None
        if kind not in _STREAM_FAULTS:
            self._send_bytes(200, body, ctype)
            return
        if kind == "endless_data":
            # A JSON body whose content string never closes, sent chunked (no length to stop at).
            self._start_chunked(200, ctype)
            self._chunk(endless_head)
            self._endless(_Endless(b"x" * ENDLESS_LINE, int(float(fault.get("mib", 64)) * 1024 * 1024)))  # type: ignore[union-attr]
            self._end_chunks()
            return
        # Mid-body faults on a plain JSON answer: headers and half the body, then the fault.
        half = len(body) // 2
        if kind == "malformed":
            self._send_bytes(200, body[:half], ctype)
            return
        rec.status = 200
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers()
        self._end_headers()
        self._write(body[:half])
        if kind == "reset_after":
            self._wait(float(fault.get("pause", 0.2)))  # type: ignore[union-attr]
            self._reset()
        elif kind == "truncate":
            self._close_abruptly()
        elif kind == "stall_after":
            self._wait(float(fault.get("seconds", 5)))  # type: ignore[union-attr]
            self._write(body[half:])

    def _events(self, plan: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        """The chunk objects of a v1 stream (§6.1) and the content each one carries."""
        s = self.fake.settings
        common = {"created": plan["created"], "model": plan["model"], "object": "chat.completion"}
        events: list[tuple[dict[str, Any], str]] = []
        if plan["function_call"] is not None:
            delta = {"content": "", "role": "assistant", "function_call": plan["function_call"],
                     "functions_state_id": plan["functions_state_id"]}
            events.append(({"choices": [{"delta": delta, "index": 0}], **common}, ""))
        else:
            for i, piece in enumerate(plan["chunks"]):
                delta = {"content": piece, "role": "assistant"} if i == 0 else {"content": piece}
                events.append(({"choices": [{"delta": delta, "index": 0}], **common}, piece))
        if s.usage_on_every_chunk:
            for obj, _ in events:
                obj["usage"] = plan["usage"]
        final = {"choices": [{"delta": {"content": ""}, "index": 0, "finish_reason": plan["finish_reason"]}],
                 **common, "usage": plan["usage"]}
        events.append((final, ""))
        return events

    def _sse_framing(self, fault: Optional[Fault]) -> tuple[frozenset[str], bytes, bytes]:
        """(flags, line end, data prefix) of a stream: the fault's ``sse`` modifier, else settings.sse."""
        flags = _sse_flags(fault.get("sse") if fault and "sse" in fault.params else self.fake.settings.sse)
        return flags, (b"\r\n" if "crlf" in flags else b"\n"), (b"data:" if "nospace" in flags else b"data: ")

    def _stream(self, rec: RecordedRequest, plan: dict[str, Any], fault: Optional[Fault]) -> None:
        flags, eol, prefix = self._sse_framing(fault)
        frames = [(prefix + _dumps(obj) + eol + eol, content) for obj, content in self._events(plan)]
        malformed = prefix + b'{"choices":[{"delta":{"content":"broken' + eol + eol
        self._send_frames(rec, frames, prefix + b"[DONE]" + eol + eol, fault, flags, eol, prefix, malformed)

    def _send_frames(
        self, rec: RecordedRequest, events: list[tuple[bytes, str]], terminator: bytes, fault: Optional[Fault],
        flags: frozenset[str], eol: bytes, prefix: bytes, malformed: bytes,
    ) -> None:
        """Write an SSE body: each (frame bytes, content it carries), then ``terminator``, with any
        mid-stream fault applied after ``chunks`` frames (see FAULT_KINDS)."""
        s = self.fake.settings
        interval = float(fault.get("interval", s.chunk_interval)) if fault else s.chunk_interval
        kind = fault.kind if fault and fault.kind in _STREAM_FAULTS else None
        default_k = len(events) - 1 if kind == "truncate" else 1
        k = int(fault.get("chunks", default_k)) if kind else -1
        if kind == "truncate" and fault and fault.get("finish"):
            k = len(events)
        k = min(k, len(events))

        # A list of operations first, so that the "split" variant can re-cut the bytes freely.
        ops: list[Any] = []
        ends: list[tuple[int, str]] = []  # (end offset in the stream, content) per event
        offset = 0

        def data(payload: bytes, content: Optional[str] = None) -> None:
            nonlocal offset
            ops.append(_Data(payload))
            offset += len(payload)
            if content is not None:
                ends.append((offset, content))

        if "leading_blank" in flags:
            data(eol)
        for i, (frame, content) in enumerate(events):
            if i == k and kind is not None:
                if self._stream_fault_ops(kind, fault, ops, data, prefix, eol, malformed):  # type: ignore[arg-type]
                    break
            data(frame, content)
            if interval and i < len(events) - 1:
                ops.append(_Wait(interval))
        else:
            if kind is not None and k >= len(events):
                if not self._stream_fault_ops(kind, fault, ops, data, prefix, eol, malformed):  # type: ignore[arg-type]
                    data(terminator)
                    ops.append(_End())
            else:
                data(terminator)
                ops.append(_End())
        if "split" in flags:
            ops = self._split(ops)

        self._event_ends = collections.deque(ends)
        self._stream_written = 0
        self._start_chunked(200, "text/event-stream")
        for op in ops:
            if isinstance(op, _Data):
                if "split" in flags:
                    rec.pieces.append(len(op.data))
                self._chunk(op.data)
            elif isinstance(op, _Wait):
                self._wait(op.seconds)
            elif isinstance(op, _Reset):
                self._reset()
            elif isinstance(op, _Endless):
                self._endless(op)
            elif isinstance(op, _End):
                if op.abrupt:
                    self._close_abruptly()
                self._end_chunks()

    @staticmethod
    def _stream_fault_ops(kind: str, fault: Fault, ops: list[Any], data: Callable[..., None], prefix: bytes, eol: bytes,
                          malformed: bytes) -> bool:
        """Append the operations of a mid-stream fault; True if the stream ends there."""
        if kind == "reset_after":
            # A pause first, so the client has read what was sent: a RST that arrives together with
            # the data makes the kernel drop the unread bytes, and the test would see no "partial".
            ops.append(_Wait(float(fault.get("pause", 0.2))))
            ops.append(_Reset())
            return True
        if kind == "truncate":
            ops.append(_End(abrupt=bool(fault.get("abrupt"))))
            return True
        if kind == "stall_after":
            ops.append(_Wait(float(fault.get("seconds", 5))))
            return False
        if kind == "malformed":
            data(malformed)
            return False
        if kind == "endless_data":
            ops.append(_Endless(prefix + b"x" * ENDLESS_LINE + eol, int(float(fault.get("mib", 64)) * 1024 * 1024)))
            ops.append(_End())
            return True
        return False

    def _endless(self, op: "_Endless") -> None:
        """Write ``op.line`` again and again (no event ever ends) until ``op.total`` bytes went out.

        The line is one object reused, so the fake itself stays small however much it sends; a client
        that goes away ends it through _ClientGone like any other write.
        """
        rec = self.rec
        while (rec.endless_bytes if rec else 0) < op.total:
            if self.fake._stopping.is_set():
                raise _Abort()
            self._chunk(op.line)
            if rec is not None:
                rec.endless_bytes += len(op.line)

    @staticmethod
    def _split(ops: list[Any]) -> list[Any]:
        """Re-cut runs of data at awkward places, with a pause between pieces."""
        out: list[Any] = []
        run = b""
        cuts: list[int] = []
        for op in ops + [None]:
            if isinstance(op, _Data):
                cuts.extend(len(run) + c for c in _awkward_cuts(op.data))
                run += op.data
                continue
            if run:
                prev = 0
                for cut in sorted(set(cuts)) + [len(run)]:
                    if cut > prev:
                        out.append(_Data(run[prev:cut]))
                        out.append(_Wait(SPLIT_PAUSE))
                        prev = cut
                run, cuts = b"", []
            if op is not None:
                out.append(op)
        return out

    def _bench(self, rec: RecordedRequest, spec: tuple[int, int, float], body: dict[str, Any]) -> None:
        """A stream of N events of exactly S content bytes, each stamped with its send time.

        Content: when S >= 16, the first 16 bytes are the send time in microseconds since the epoch
        (decimal, zero-padded), then "." up to S bytes; smaller S is all dots. Every content piece
        is ASCII of fixed size, so a client can cut the concatenated text into S-byte records no matter
        how a relay regroups the deltas. Each event also carries "x_sent_ns" (time.time_ns()) for
        readers that see the raw chunks. P > 0 paces events every P ms; otherwise writes are batched
        up to 16 KiB, as a fast producer's TCP stream would be.
        """
        n, size, pace_ms = spec
        created = int(time.time())
        model = "bench"
        rec.stream = bool(body.get("stream"))
        usage = {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1, "precached_prompt_tokens": 0}

        def content() -> tuple[bytes, int]:
            ns = time.time_ns()
            if size >= 16:
                return (b"%016d" % (ns // 1000)) + b"." * (size - 16), ns
            return b"." * size, ns

        if not rec.stream:
            text = b"".join(content()[0] for _ in range(n)).decode()
            self._send_json(200, {
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                "created": created, "model": model, "object": "chat.completion", "usage": usage,
            })
            return
        head_first = b'data: {"choices":[{"delta":{"content":"'
        role_mid = b'","role":"assistant"},"index":0}],"created":%d,"model":"%s","object":"chat.completion","x_sent_ns":' % (created, model.encode())
        mid = b'"},"index":0}],"created":%d,"model":"%s","object":"chat.completion","x_sent_ns":' % (created, model.encode())
        self._start_chunked(200, "text/event-stream")
        pace = pace_ms / 1000.0
        buf = bytearray()
        for i in range(n):
            piece, ns = content()
            event = head_first + piece + (role_mid if i == 0 else mid) + b"%d}\n\n" % ns
            buf += b"%x\r\n%s\r\n" % (len(event), event)
            rec.events_sent += 1
            if pace:
                self._write(bytes(buf))
                buf.clear()
                self._wait(pace)
            elif len(buf) >= 16384:
                self._write(bytes(buf))
                buf.clear()
        final = b"data: " + _dumps({
            "choices": [{"delta": {"content": ""}, "index": 0, "finish_reason": "stop"}],
            "created": created, "model": model, "object": "chat.completion", "usage": usage,
        }) + b"\n\ndata: [DONE]\n\n"
        buf += b"%x\r\n%s\r\n0\r\n\r\n" % (len(final), final)
        self._write(bytes(buf))

    # -- /_control (standalone use; tests in-process call the methods directly)
    def _control(self, body: bytes) -> None:
        """POST /_control with one JSON object; GET /_control returns the state snapshot.

        {"action": "fault", "path": "chat", "kind": "status", "status": 500, "times": 1, ...}
        {"action": "clear_faults", "path": "chat"}            (path optional: all)
        {"action": "settings", "chunk_interval": 0.01, ...}   (any FakeSettings field)
        {"action": "revoke_tokens"}
        {"action": "add_token", "token": "...", "lifetime": 60}
        {"action": "oauth_down", "mode": "503", "count": 3}   (count null: until oauth_up)
        {"action": "oauth_up"}
        {"action": "reset_stats"}
        {"action": "state"}
        Answers {"ok": true, ...} or 400 {"ok": false, "error": "..."}.
        """
        fake = self.fake
        self.rec = None  # not an API request: no X-Request-Id echo, nothing recorded
        if self.command == "GET":
            self._send_json(200, {"ok": True, "state": fake.snapshot()})
            return
        try:
            req = json.loads(body or b"{}")
            if not isinstance(req, dict):
                raise ValueError("control body must be a JSON object")
            action = req.pop("action", "state")
            result: dict[str, Any] = {"ok": True}
            if action == "fault":
                path = req.pop("path", "chat")
                kind = req.pop("kind", "none")
                times = int(req.pop("times", 1))
                fake.inject(path, kind, times=times, **req)
            elif action == "clear_faults":
                fake.clear_faults(req.get("path"))
            elif action == "settings":
                fake.configure(**req)
            elif action == "revoke_tokens":
                fake.revoke_tokens()
            elif action == "add_token":
                result["token"] = fake.add_token(req.get("token"), req.get("lifetime"))
            elif action == "oauth_down":
                fake.oauth_down(req.get("mode", "503"), req.get("count"))
            elif action == "oauth_up":
                fake.oauth_up()
            elif action == "reset_stats":
                fake.reset_stats()
            elif action != "state":
                raise ValueError(f"unknown action {action!r}")
            result["state"] = fake.snapshot()
            self._send_json(200, result)
        except (ValueError, TypeError, AttributeError) as e:
            self._send_json(400, {"ok": False, "error": str(e)}, error=True)


# --------------------------------------------------------------------------------------------------
# Small helpers


def _model(name: str, mtype: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "owned_by": "salutedevices", "type": mtype}


def _tokens(text: str) -> int:
    # About 3-4 characters per token (§11); the exact figure does not matter to anyone.
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _vector(model: str, text: str, dim: int) -> list[float]:
    rng = random.Random(hashlib.sha256(f"{model}\0{text}".encode()).digest())
    return [round(rng.uniform(-1, 1), 6) for _ in range(dim)]


def _example_value(json_type: Any) -> Any:
    return {"string": "Москва", "integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(
        json_type if isinstance(json_type, str) else "string", "Москва"
    )


def _parse_multipart(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """Parse multipart/form-data exactly (byte for byte), unlike the email package."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        return []
    delimiter = b"--" + m.group(1).encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        disp = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disp)
        filename = re.search(r'\bfilename="([^"]*)"', disp)
        parts.append({
            "name": name.group(1) if name else None,
            "filename": filename.group(1) if filename else None,
            "content_type": headers.get("content-type"),
            "data": data,
        })
    return parts


# --------------------------------------------------------------------------------------------------
# Standalone


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="Fake GigaChat API on 127.0.0.1 (HTTPS with a test CA).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: pick a free port")
    ap.add_argument("--auth-port", type=int, default=None, help="serve OAuth on its own port (0: pick one)")
    ap.add_argument("--certdir", required=True, help="where the test PKI lives (made if missing)")
    ap.add_argument("--cert", default="good", choices=["good", "untrusted", "wronghost"])
    ap.add_argument("--key", default=None, help="authorization key to accept (default: a fresh random one)")
    ap.add_argument("--scope", default="GIGACHAT_API_PERS", choices=SCOPES)
    ap.add_argument("--user", default=None)
    ap.add_argument("--password", default=None)
    ap.add_argument("--token-lifetime", type=float, default=1800.0)
    ap.add_argument("--token-format", default="access_token", choices=["access_token", "tok_ms", "tok_s"])
    ap.add_argument("--reply", default=None)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--chunk-interval", type=float, default=0.0)
    ap.add_argument("--sse", default="")
    ap.add_argument("--bench", default=None, metavar="N:S[:P]", help="every chat is a bench stream")
    ap.add_argument("--ready-file", default=None, help="write the addresses as JSON here once listening")
    ap.add_argument("--env-file", default=None, help="write GIGACHAT_*=... lines here once listening")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    fake = FakeGigaChat(
        certdir=args.certdir, key=args.key, cert=args.cert, host=args.host, port=args.port,
        separate_auth=args.auth_port is not None, auth_port=args.auth_port or 0,
        scope=args.scope, user=args.user, password=args.password, token_lifetime=args.token_lifetime,
        token_format=args.token_format, reply=args.reply, chunks=args.chunks,
        chunk_interval=args.chunk_interval, sse=args.sse, bench=args.bench, verbose=args.verbose,
    )
    _sse_flags(args.sse)
    _parse_bench(args.bench)
    fake.start()

    env = fake.env()
    env["FAKE_GIGACHAT_CONTROL_URL"] = fake.control_url
    lines = "".join(f"{k}={v}\n" for k, v in env.items())
    if args.env_file:
        _write_atomically(args.env_file, lines)
    if args.ready_file:
        info = {"base_url": fake.base_url, "auth_url": fake.auth_url, "control_url": fake.control_url,
                "ca_file": fake.ca_file, "port": fake.port, "auth_port": fake.auth_port,
                "credentials": fake.settings.key, "scope": fake.settings.scope, "pid": os.getpid()}
        _write_atomically(args.ready_file, json.dumps(info) + "\n")
    sys.stdout.write(lines)
    sys.stdout.flush()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    fake.stop()
    return 0


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
