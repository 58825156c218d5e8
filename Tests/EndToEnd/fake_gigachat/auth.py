"""Who may call the fake: the OAuth endpoint (an authorization key for a token), password auth
(``POST /api/v1/token``), the Bearer token every other API path checks; and the keys and tokens."""

from __future__ import annotations

import base64
import re
import secrets
import string
import time
import uuid
from typing import Any

from .handler import BaseHandler
from .settings import SCOPES
from .state import RecordedRequest

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


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


class AuthRoutes(BaseHandler):
    """``POST /api/v2/oauth``, ``POST /api/v1/token``, and the Bearer check of the other API paths."""

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

    def _check_bearer(self, rec: RecordedRequest) -> bool:
        """True if the request carries a valid token; otherwise it has been answered with 401."""
        st = self.fake.state
        auth = rec.header("Authorization") or ""
        if not auth.startswith("Bearer "):
            self._unauthorized("Unauthorized")
            return False
        rec.token = auth[len("Bearer "):]
        with st.lock:
            expiry = st.tokens.get(rec.token, 0.0)
        if rec.token not in st.tokens or (expiry is not None and expiry <= time.time()):
            self._unauthorized()
            return False
        return True
