"""What the fake saw and did: a RecordedRequest per request, and FakeState with every counter.

Tests read both directly; the handler writes them under FakeState's lock.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from .faults import Fault, fault_key
from .v2 import V2_CHAT_PATH


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
