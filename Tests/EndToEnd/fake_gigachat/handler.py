"""The request handler's primitives, shared by every route.

Reading a body; writing whole, chunked and error answers; a reset or a cut-off body on purpose;
waiting while noticing a client that leaves; and the faults that look the same on every endpoint.
The routes (auth.py, chat.py, endpoints.py, files.py, control.py) build on BaseHandler; server.py
combines them into the one handler that reads, records and routes each request.
"""

from __future__ import annotations

import collections
import json
import select
import socket
import ssl
import struct
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Optional

from . import v2 as fake_v2
from .faults import Fault
from .state import RecordedRequest

if TYPE_CHECKING:
    from .server import _HTTPServer

_GATEWAY_HTML = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>SynGX</center>\r\n</body>\r\n</html>\r\n"
)

_JSON_SEPARATORS = (",", ":")


def _dumps(obj: Any) -> bytes:
    # The API sends compact one-line JSON with raw (unescaped) UTF-8; so do we, which is what makes
    # split-in-the-middle-of-a-character tests meaningful.
    return json.dumps(obj, ensure_ascii=False, separators=_JSON_SEPARATORS).encode("utf-8")


class _ClientGone(Exception):
    """The client closed the connection while we were answering."""


class _Abort(Exception):
    """We ended the connection on purpose (reset, abrupt truncation)."""


class BaseHandler(BaseHTTPRequestHandler):
    """What every route builds on. One instance serves a connection's requests in turn (keep-alive);
    ``self.rec`` is the request being answered."""

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

    def _require_json(self, rec: RecordedRequest) -> Optional[dict[str, Any]]:
        if not isinstance(rec.json, dict):
            self._send_api_error(400, "Your request contains invalid JSON syntax.")
            return None
        return rec.json

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
