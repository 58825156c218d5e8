"""The fake's lifecycle and HTTP plumbing: FakeGigaChat (listeners, addresses, what it will answer;
its test controls are in control.py), one thread per TLS connection, and the handler that reads a
request, records it and routes it to the route classes of the other modules."""

from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, unquote, urlsplit

from pki import TestPKI, make_test_pki

from .auth import AuthRoutes, make_test_key
from .chat import ChatRoutes
from .control import ControlRoutes, Controls
from .endpoints import EndpointRoutes
from .faults import fault_key
from .files import FileRoutes, _parse_multipart
from .handler import _Abort, _ClientGone, _dumps
from .settings import API_PREFIX, CONTROL_PATH, MODELS, OAUTH_PATH, FakeSettings
from .state import FakeState, RecordedRequest
from .v2 import V2_CHAT_PATH, split_text


class FakeGigaChat(Controls):
    """The fake API server. ``start()`` returns self; use as a context manager if you like.

    The test controls (``configure``, ``inject``, ...) come from Controls in control.py.
    """

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


class _Handler(AuthRoutes, ChatRoutes, EndpointRoutes, FileRoutes, ControlRoutes):
    """A connection's handler: it reads and records each request, then routes it by path and method to
    the route classes it combines."""

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

    # -- the API paths: password tokens, then a Bearer token for everything else
    def _api(self, rec: RecordedRequest) -> None:
        st = self.fake.state
        route, method = rec.route, rec.method
        if route == "/token" and method == "POST":
            if not self._apply_fault(st._pop_fault("/token"), rec):
                self._password_token(rec)
            return
        if not self._check_bearer(rec):
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
            self._list_models()
        elif parts[0] == "models" and len(parts) == 2 and method == "GET":
            self._get_model(unquote(parts[1]))
        elif route == "/embeddings" and method == "POST":
            self._embeddings(rec)
        elif route == "/tokens/count" and method == "POST":
            self._tokens_count(rec)
        elif route == "/balance" and method == "GET":
            self._balance()
        elif route == "/ai/check" and method == "POST":
            self._ai_check(rec)
        elif route == "/functions/convert" and method == "POST":
            self._functions_convert(rec)
        elif parts[0] == "files":
            self._files(rec, parts, method)
        else:
            self._send_api_error(404, "Not found")
