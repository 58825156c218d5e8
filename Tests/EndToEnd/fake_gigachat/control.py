"""Test controls: what a test changes between requests (settings, queued faults, tokens, OAuth
outages, counters) and reads back, in process as FakeGigaChat methods or, for the standalone fake,
as JSON on ``/_control``."""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import json
import threading
import time
from typing import Any, Callable, Optional

from .auth import _new_token
from .faults import FAULT_KINDS, Fault, _sse_flags, fault_key
from .handler import BaseHandler
from .settings import FakeSettings
from .state import FakeState


class Controls:
    """The test controls of FakeGigaChat (server.py), which supplies the attributes below."""

    settings: FakeSettings
    state: FakeState
    separate_auth: bool
    auth_port: Optional[int]
    _servers: dict[str, Any]
    _stopping: threading.Event
    _serve: Callable[[str, int], int]
    _unserve: Callable[[str], None]

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


class ControlRoutes(BaseHandler):
    """``/_control``: the controls as JSON for the standalone fake (tests in process call the methods)."""

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
