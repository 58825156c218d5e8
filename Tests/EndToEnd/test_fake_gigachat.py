"""Checks of the fake GigaChat API itself: no Swift binary involved.

If the fake drifts from the API reference (/work/shared/gigachat-api.md), every daemon test built on
it proves the wrong thing; these tests pin the wire format and each fault down with a plain Python
client (and the curl CLI for the standalone mode).
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import pytest

from fake_gigachat import FakeGigaChat, parse_sse
from harness import run_parallel, wait_until
from pki import TestPKI

HERE = Path(__file__).resolve().parent


# -- a tiny client ------------------------------------------------------------------------------


def tls_context(pki: TestPKI) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(pki.ca_cert))


class Client:
    """http.client over the test CA, one keep-alive connection, like a daemon would hold."""

    def __init__(self, fake: FakeGigaChat, host: str = "127.0.0.1", port: Optional[int] = None) -> None:
        self.fake = fake
        self.conn = http.client.HTTPSConnection(host, port or fake.port, context=tls_context(fake.pki), timeout=10)

    def request(self, method: str, path: str, body: Any = None, headers: Optional[dict[str, str]] = None) -> tuple[http.client.HTTPResponse, bytes]:
        data = json.dumps(body, ensure_ascii=False).encode() if isinstance(body, (dict, list)) else body
        hdrs = {"Content-Type": "application/json"} if isinstance(body, (dict, list)) else {}
        hdrs.update(headers or {})
        self.conn.request(method, path, body=data, headers=hdrs)
        resp = self.conn.getresponse()
        return resp, resp.read()

    def oauth(self, key: Optional[str] = None, scope: str = "GIGACHAT_API_PERS", auth: Optional[str] = None,
              rquid: Optional[str] = "auto") -> tuple[http.client.HTTPResponse, Any]:
        headers = {
            "Authorization": auth or f"Basic {key or self.fake.settings.key}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if rquid == "auto":
            headers["RqUID"] = str(uuid.uuid4())
        elif rquid is not None:
            headers["RqUID"] = rquid
        resp, body = self.request("POST", "/api/v2/oauth", f"scope={scope}".encode() if scope else b"", headers)
        return resp, json.loads(body)

    def token(self) -> str:
        resp, body = self.oauth()
        assert resp.status == 200, body
        return body["access_token"]

    def api(self, method: str, path: str, body: Any = None, token: Optional[str] = None,
            headers: Optional[dict[str, str]] = None) -> tuple[http.client.HTTPResponse, bytes]:
        hdrs = {"Authorization": f"Bearer {token or self.token()}"}
        hdrs.update(headers or {})
        return self.request(method, "/api/v1" + path, body, hdrs)

    def chat(self, content: str = "Привет, мир", stream: bool = True, token: Optional[str] = None, **extra: Any) -> tuple[http.client.HTTPResponse, bytes]:
        body = {"model": "GigaChat", "stream": stream, "messages": [{"role": "user", "content": content}], **extra}
        return self.api("POST", "/chat/completions", body, token)


def stream_text(raw: bytes) -> tuple[str, list[dict[str, Any]], bool]:
    """(concatenated delta content, chunk objects, saw [DONE]) of a raw SSE body."""
    chunks, done = [], False
    for value in parse_sse(raw):
        if value == "[DONE]":
            done = True
            continue
        chunks.append(json.loads(value))
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    return text, chunks, done


@pytest.fixture
def client(fake_api: FakeGigaChat) -> Client:
    return Client(fake_api)


# -- OAuth and tokens ---------------------------------------------------------------------------


def test_oauth_accepts_only_basic_with_the_configured_key(fake_api: FakeGigaChat, client: Client) -> None:
    resp, body = client.oauth(auth=f"Bearer {fake_api.settings.key}")
    assert resp.status == 401 and set(body) == {"code", "message"}
    resp, body = client.oauth(key="d3Jvbmc6a2V5")
    assert resp.status == 401
    resp, body = client.oauth(rquid=None)
    assert resp.status == 400
    resp, body = client.oauth(rquid="not-a-uuid")
    assert resp.status == 400
    resp, body = client.oauth(scope="")
    assert (resp.status, body["code"]) == (400, 5)
    resp, body = client.oauth(scope="GIGACHAT_API_B2B")
    assert (resp.status, body["code"]) == (400, 7)

    before = time.time()
    resp, body = client.oauth()
    assert resp.status == 200
    assert set(body) == {"access_token", "expires_at"}
    assert 1100 <= len(body["access_token"]) <= 1300
    assert abs(body["expires_at"] / 1000 - (before + 1800)) < 5  # epoch milliseconds, 30 minutes

    calls = fake_api.state.oauth_calls
    assert len(calls) == 7
    assert calls[-1].header("authorization") == f"Basic {fake_api.settings.key}"
    assert calls[-1].form == {"scope": ["GIGACHAT_API_PERS"]}
    assert all(a.t <= b.t for a, b in zip(calls, calls[1:]))


@pytest.mark.parametrize("fmt,unit", [("tok_ms", 1000), ("tok_s", 1)])
def test_short_token_forms(fake_api: FakeGigaChat, client: Client, fmt: str, unit: int) -> None:
    fake_api.configure(token_format=fmt, token_lifetime=120)
    resp, body = client.oauth()
    assert resp.status == 200 and set(body) == {"tok", "exp"}
    assert abs(body["exp"] / unit - (time.time() + 120)) < 5
    resp, _ = client.chat(token=body["tok"], stream=False)
    assert resp.status == 200


def test_api_rejects_missing_expired_and_revoked_tokens(fake_api: FakeGigaChat, client: Client) -> None:
    resp, body = client.request("GET", "/api/v1/models")
    assert resp.status == 401
    fake_api.configure(token_lifetime=0.3)
    short = client.token()
    assert client.api("GET", "/models", token=short)[0].status == 200
    time.sleep(0.4)
    resp, body = client.api("GET", "/models", token=short)
    assert resp.status == 401 and json.loads(body) == {"status": 401, "message": "Token has expired"}

    fake_api.configure(token_lifetime=60)
    token = client.token()
    assert client.api("GET", "/models", token=token)[0].status == 200
    fake_api.revoke_tokens()
    assert client.api("GET", "/models", token=token)[0].status == 401
    assert fake_api.state.unauthorized == 3

    pre = fake_api.add_token()
    assert client.api("GET", "/models", token=pre)[0].status == 200


def test_password_auth(fake_api: FakeGigaChat, client: Client) -> None:
    fake_api.configure(user="alice", password="s3cret-pass")
    good = "Basic " + base64.b64encode(b"alice:s3cret-pass").decode()
    resp, body = client.request("POST", "/api/v1/token", b"", {"Authorization": good})
    token = json.loads(body)
    assert resp.status == 200 and set(token) == {"tok", "exp"}
    assert client.chat(token=token["tok"], stream=False)[0].status == 200
    bad = "Basic " + base64.b64encode(b"alice:nope").decode()
    assert client.request("POST", "/api/v1/token", b"", {"Authorization": bad})[0].status == 401
    assert len(fake_api.state.password_calls) == 2


# -- chat ---------------------------------------------------------------------------------------


def test_stream_is_byte_exact_sse(fake_api: FakeGigaChat, client: Client) -> None:
    fake_api.configure(reply="Первый ответ", chunks=3)
    token = client.token()
    resp, raw = client.api(
        "POST", "/chat/completions",
        {"model": "GigaChat", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        token, {"X-Request-ID": "req-42", "X-Session-ID": "sess-7"},
    )
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/event-stream"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.getheader("X-Request-Id") == "req-42" and resp.getheader("X-Session-Id") == "sess-7"
    events = raw.split(b"\n\n")
    assert events[-1] == b"" and events[-2] == b"data: [DONE]"
    assert all(e.startswith(b"data: {") and b"\n" not in e for e in events[:-2])
    objs = [json.loads(e[6:]) for e in events[:-2]]
    assert [o["choices"][0]["delta"]["content"] for o in objs] == ["Перв", "ый о", "твет", ""]
    assert objs[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all("finish_reason" not in o["choices"][0] for o in objs[:-1])  # absent, not null
    assert objs[-1]["choices"][0]["finish_reason"] == "stop" and "usage" in objs[-1]
    assert all(o["model"] == "GigaChat:2.0.28.2" and o["object"] == "chat.completion" for o in objs)
    assert "Перв".encode() in raw  # raw UTF-8, not \\u escapes
    rec = fake_api.state.chat_requests[-1]
    assert rec.events_sent == 4 and rec.sent_content == "Первый ответ"


def test_nonstream_shape_and_model_checks(fake_api: FakeGigaChat, client: Client) -> None:
    token = client.token()
    resp, body = client.chat("hi", stream=False, token=token)
    obj = json.loads(body)
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/json"
    assert obj["choices"] == [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Echo: hi"}}]
    assert set(obj) == {"choices", "created", "model", "object", "usage"}  # no top-level id (§5.2)
    assert obj["usage"]["total_tokens"] == obj["usage"]["prompt_tokens"] + obj["usage"]["completion_tokens"]

    resp, body = client.api("POST", "/chat/completions", {"model": "Nope", "messages": [{"role": "user", "content": "x"}]}, token)
    assert resp.status == 404 and json.loads(body) == {"status": 404, "message": "No such model"}
    resp, body = client.api("POST", "/chat/completions", {"messages": [{"role": "user", "content": "x"}]}, token)
    assert resp.status == 422
    resp, body = client.api("POST", "/chat/completions", b"{not json", token)
    assert resp.status == 400
    rec = fake_api.state.chat_requests[0]
    assert rec.json["messages"][0]["content"] == "hi" and rec.header("authorization") == f"Bearer {token}"


def test_function_call_reply(fake_api: FakeGigaChat, client: Client) -> None:
    functions = [{"name": "weather", "description": "Погода", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city", "days"]}}]
    token = client.token()
    resp, body = client.chat("погода?", stream=False, token=token, functions=functions, function_call="auto")
    msg = json.loads(body)["choices"][0]
    assert msg["finish_reason"] == "function_call"
    assert msg["message"]["function_call"] == {"name": "weather", "arguments": {"city": "Москва", "days": 1}}
    assert msg["message"]["content"] == "" and msg["message"]["functions_state_id"]

    forced = {"name": "weather", "partial_arguments": {"city": "Казань"}}
    resp, raw = client.chat("погода?", token=token, functions=functions, function_call=forced)
    _, chunks, done = stream_text(raw)
    assert done and chunks[0]["choices"][0]["delta"]["function_call"]["arguments"]["city"] == "Казань"
    assert chunks[-1]["choices"][0]["finish_reason"] == "function_call"

    resp, body = client.chat("погода?", stream=False, token=token, functions=functions)  # function_call absent: none
    assert json.loads(body)["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("flags", ["crlf", "nospace", "leading_blank", "split", "crlf+nospace+leading_blank+split"])
def test_sse_variants_carry_the_same_text(fake_api: FakeGigaChat, client: Client, flags: str) -> None:
    prompt = 'Ёжик: "тест" — data: [DONE] 🙂 конец'
    fake_api.inject("chat", sse=flags)
    resp, raw = client.chat(prompt)
    text, chunks, done = stream_text(raw)
    assert text == "Echo: " + prompt and done and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    if "crlf" in flags:
        assert b"\r\n\r\n" in raw and b"}\n" not in raw
    if "nospace" in flags:
        lines = raw.replace(b"\r", b"").split(b"\n")
        assert not any(line.startswith(b"data: ") for line in lines) and lines.count(b"data:[DONE]") == 1
    if "leading_blank" in flags:
        assert raw[:1] in (b"\n", b"\r")
    if "split" in flags:
        rec = fake_api.state.chat_requests[-1]
        assert len(rec.pieces) > 2 * len(chunks)
        # Some piece boundary falls inside a multi-byte character (the next byte is a continuation byte).
        offsets, pos = [], 0
        for size in rec.pieces[:-1]:
            pos += size
            offsets.append(pos)
        assert any(0x80 <= raw[o] <= 0xBF for o in offsets if o < len(raw))


# -- faults -------------------------------------------------------------------------------------


def test_error_faults(fake_api: FakeGigaChat, client: Client) -> None:
    token = client.token()
    fake_api.inject("chat", "status", status=500, message="Internal Server Error")
    resp, body = client.chat(token=token)
    assert resp.status == 500 and json.loads(body) == {"status": 500, "message": "Internal Server Error"}
    assert resp.getheader("Content-Type") == "application/json; charset=utf-8"

    fake_api.inject("chat", "html", status=502)
    resp, body = client.chat(token=token)
    assert resp.status == 502 and resp.getheader("Content-Type") == "text/html" and b"SynGX" in body

    fake_api.inject("chat", "rate_limit", retry_after=7)
    resp, body = client.chat(token=token)
    assert resp.status == 429 and resp.getheader("Retry-After") == "7"

    fake_api.inject("chat", "unauthorized")
    resp, body = client.chat(token=token)
    assert resp.status == 401

    fake_api.inject("/models", "status", status=503, times=-1)
    for _ in range(3):
        assert client.api("GET", "/models", token=token)[0].status == 503
    fake_api.clear_faults("/models")
    assert client.api("GET", "/models", token=token)[0].status == 200
    assert client.chat(token=token)[0].status == 200  # one-shot faults were used up


def test_reset_before_any_byte(fake_api: FakeGigaChat, client: Client) -> None:
    token = client.token()
    fake_api.inject("chat", "reset")
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        client.chat(token=token)
    assert fake_api.state.chat_requests[-1].status is None


def test_reset_after_chunks(fake_api: FakeGigaChat, pki: TestPKI) -> None:
    # Read the raw socket so that the bytes before the reset are observable.
    fake_api.configure(reply="abcdefgh", chunks=4)
    token = Client(fake_api).token()
    fake_api.inject("chat", "reset_after", chunks=2)
    raw = raw_request(fake_api, pki, "POST", "/api/v1/chat/completions", {
        "model": "GigaChat", "stream": True, "messages": [{"role": "user", "content": "x"}]}, token)
    assert b'"content":"ab"' in raw and b'"content":"cd"' in raw and b'"content":"ef"' not in raw
    assert fake_api.state.chat_requests[-1].sent_content == "abcd"


def raw_request(fake: FakeGigaChat, pki: TestPKI, method: str, path: str, body: Any, token: str) -> bytes:
    """Send one request over raw TLS and return every byte received until reset or close."""
    data = json.dumps(body).encode()
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    sock = tls_context(pki).wrap_socket(socket.create_connection(("127.0.0.1", fake.port), timeout=10), server_hostname="127.0.0.1")
    sock.sendall(head + data)
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    finally:
        sock.close()
    return out


def test_truncate_and_malformed(fake_api: FakeGigaChat, client: Client) -> None:
    token = client.token()
    fake_api.inject("chat", "truncate")
    resp, raw = client.chat(token=token)
    text, chunks, done = stream_text(raw)
    assert resp.status == 200 and not done and text == "Echo: Привет, мир"
    assert all("finish_reason" not in c["choices"][0] for c in chunks)

    fake_api.inject("chat", "malformed", chunks=1)
    resp, raw = client.chat(token=token)
    with pytest.raises(ValueError):
        stream_text(raw)


def hang_up(client: Client, resp: http.client.HTTPResponse) -> None:
    # The response keeps its own reference to the socket; shut it down so the fd really closes.
    client.conn.sock.shutdown(socket.SHUT_RDWR)
    resp.close()
    client.conn.close()


def test_stall_and_disconnect_detection(fake_api: FakeGigaChat, client: Client) -> None:
    token = client.token()
    fake_api.inject("chat", "stall_after", chunks=1, seconds=0.5)
    start = time.monotonic()
    resp, raw = client.chat(token=token)
    assert time.monotonic() - start >= 0.5 and stream_text(raw)[2]

    # A client that leaves during a stall is noticed at once, not when the stall ends.
    fake_api.inject("chat", "stall_after", chunks=1, seconds=30)
    c2 = Client(fake_api)
    c2.conn.request("POST", "/api/v1/chat/completions", json.dumps({
        "model": "GigaChat", "stream": True, "messages": [{"role": "user", "content": "x"}]}).encode(),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    resp = c2.conn.getresponse()
    resp.read1(100)  # the first event has arrived
    time.sleep(0.2)
    closed_at = time.monotonic()
    hang_up(c2, resp)
    assert fake_api.wait_for(lambda st: len(st.disconnects) == 1, timeout=2)
    assert fake_api.state.disconnects[0]["t"] - closed_at < 1.0
    assert fake_api.state.disconnects[0]["route"] == "/chat/completions"


def test_paced_stream_notices_disconnect(fake_api: FakeGigaChat, client: Client) -> None:
    token = client.token()
    fake_api.configure(chunks=50, chunk_interval=0.1, reply="x" * 50)
    c2 = Client(fake_api)
    c2.conn.request("POST", "/api/v1/chat/completions", json.dumps({
        "model": "GigaChat", "stream": True, "messages": [{"role": "user", "content": "x"}]}).encode(),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    resp = c2.conn.getresponse()
    resp.read1(100)
    closed_at = time.monotonic()
    hang_up(c2, resp)
    assert fake_api.wait_for(lambda st: st.disconnects, timeout=2)
    assert fake_api.state.disconnects[0]["t"] - closed_at < 0.5
    assert fake_api.wait_for(lambda st: st.chat_in_flight == 0, timeout=2)


def test_oauth_down_modes(pki: TestPKI) -> None:
    with FakeGigaChat(pki, separate_auth=True) as fake:
        assert fake.auth_port != fake.port
        client = Client(fake, port=fake.auth_port)
        fake.oauth_down("503", count=2)
        assert client.oauth()[0].status == 503
        assert client.oauth()[0].status == 503
        assert client.oauth()[0].status == 200

        fake.oauth_down("html")
        for _ in range(3):
            resp, body = client.request("POST", "/api/v2/oauth", b"scope=GIGACHAT_API_PERS")
            assert resp.status == 503 and b"SynGX" in body
        fake.oauth_up()
        assert client.oauth()[0].status == 200

        fake.oauth_down("reset", count=1)
        with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
            Client(fake, port=fake.auth_port).oauth()

        fake.oauth_down("refuse")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", fake.auth_port), timeout=2)
        fake.oauth_up()
        assert Client(fake, port=fake.auth_port).oauth()[0].status == 200
        # The API port never served OAuth, and the auth port never serves the API.
        assert Client(fake).request("POST", "/api/v2/oauth", b"scope=GIGACHAT_API_PERS")[0].status == 404


# -- hardening helpers ---------------------------------------------------------------


@pytest.mark.parametrize("fmt,unit", [("access_token", 1000), ("tok_ms", 1000), ("tok_s", 1)])
def test_expiry_offset_moves_only_the_reported_expiry(fake_api: FakeGigaChat, client: Client, fmt: str, unit: int) -> None:
    fake_api.configure(token_format=fmt, expiry_offset=-3600)
    resp, body = client.oauth()
    assert resp.status == 200
    token, exp = (body["access_token"], body["expires_at"]) if fmt == "access_token" else (body["tok"], body["exp"])
    assert abs(exp / unit - (time.time() + 1800 - 3600)) < 5, "reported as expired half an hour ago"
    assert client.chat(token=token, stream=False)[0].status == 200, "yet the fake still accepts it"
    assert fake_api.state.tokens[token] > time.time() + 1700


def endless_raw(fake: FakeGigaChat, pki: TestPKI, token: str, stream: bool = True, read_limit: Optional[int] = None) -> bytes:
    """A chat over raw TLS, read to the end (or until ``read_limit`` bytes, then hang up)."""
    body = json.dumps({"model": "GigaChat", "stream": stream, "messages": [{"role": "user", "content": "x"}]}).encode()
    head = (f"POST /api/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    sock = tls_context(pki).wrap_socket(socket.create_connection(("127.0.0.1", fake.port), timeout=10), server_hostname="127.0.0.1")
    out = bytearray()
    try:
        sock.sendall(head + body)
        while read_limit is None or len(out) < read_limit:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            out += chunk
            if out.endswith(b"\r\n0\r\n\r\n"):
                break
    finally:
        sock.close()
    return bytes(out)


def dechunk(raw: bytes) -> bytes:
    """The body of an HTTP/1.1 chunked response (head included in ``raw``)."""
    rest = raw.split(b"\r\n\r\n", 1)[1]
    body = bytearray()
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return bytes(body)
        body += rest[:size]
        rest = rest[size + 2:]


def test_endless_data_is_one_event_that_never_ends(fake_api: FakeGigaChat, client: Client, pki: TestPKI) -> None:
    fake_api.configure(reply="abcd", chunks=2)
    token = client.token()
    fake_api.inject("chat", "endless_data", chunks=1, mib=1)
    body = dechunk(endless_raw(fake_api, pki, token))
    first, sep, rest = body.partition(b"\n\n")
    assert sep and json.loads(first[len(b"data: "):])["choices"][0]["delta"]["content"] == "ab"
    lines = rest.split(b"\n")
    assert lines[-1] == b"" and b"" not in lines[:-1], "no blank line: the event never ends"
    assert all(line == b"data: " + b"x" * 65536 for line in lines[:-1]) and len(lines) - 1 == 16
    rec = fake_api.state.chat_requests[-1]
    assert rec.fault == "endless_data" and rec.endless_bytes == 16 * (65536 + 7) and rec.sent_content == "ab"

    # The default 64 MiB stops as soon as the client leaves, and the fake stays small meanwhile.
    fake_api.inject("chat", "endless_data")
    got = endless_raw(fake_api, pki, token, read_limit=2 * 1024 * 1024)
    assert len(got) >= 2 * 1024 * 1024
    assert fake_api.wait_for(lambda st: st.chat_requests[-1].done, timeout=5), "the fake kept writing to nobody"
    assert fake_api.state.chat_requests[-1].endless_bytes < 32 * 1024 * 1024

    # Non-stream: a JSON body whose string never closes.
    fake_api.inject("chat", "endless_data", mib=1)
    body = dechunk(endless_raw(fake_api, pki, token, stream=False))
    assert body.startswith(b'{"choices":[{"index":0,"message":{"role":"assistant","content":"xxx')
    assert len(body) > 1024 * 1024 and body.endswith(b"x")


def test_status_fault_can_answer_200_with_any_body_on_any_endpoint(fake_api: FakeGigaChat, client: Client) -> None:
    token = client.token()
    huge = {"object": "list", "data": [], **{f"k{i}": i for i in range(60_000)}}
    fake_api.inject("/models", "status", status=200, body=huge)
    resp, body = client.api("GET", "/models", token=token)
    assert resp.status == 200 and json.loads(body) == huge
    assert fake_api.state.requests_to("/models")[-1].fault == "status"
    fake_api.inject("/models/GigaChat", "status", status=200, body={"id": "GigaChat", "odd": True})
    assert json.loads(client.api("GET", "/models/GigaChat", token=token)[1]) == {"id": "GigaChat", "odd": True}
    assert json.loads(client.api("GET", "/models", token=token)[1])["data"], "one-shot: the real list again"


# -- accounting ---------------------------------------------------------------------------------


def test_keepalive_and_concurrency_accounting(fake_api: FakeGigaChat, client: Client) -> None:
    token = client.token()
    for _ in range(3):
        assert client.chat(token=token)[0].status == 200
        assert client.chat(token=token, stream=False)[0].status == 200
    assert fake_api.state.connections_accepted == 1  # OAuth and 6 chats on one kept-alive connection
    assert fake_api.state.chat_max_in_flight == 1

    fake_api.configure(chunk_interval=0.1)
    results = run_parallel(lambda i: Client(fake_api).chat(token=token)[0].status, 3)
    assert results == [200, 200, 200]
    assert fake_api.state.chat_max_in_flight == 3
    assert fake_api.state.chat_in_flight == 0

    fake_api.configure(concurrency_limit=1)
    statuses = sorted(run_parallel(lambda i: Client(fake_api).chat(token=token)[0].status, 3))
    assert statuses[0] == 200 and 429 in statuses


def test_bench_mode(fake_api: FakeGigaChat, client: Client) -> None:
    token = client.token()
    before_us = time.time_ns() // 1000
    resp, raw = client.api("POST", "/chat/completions", {
        "model": "bench:200:24:0", "stream": True, "messages": [{"role": "user", "content": "go"}]}, token)
    text, chunks, done = stream_text(raw)
    assert done and len(chunks) == 201 and len(text) == 200 * 24
    records = [text[i:i + 24] for i in range(0, len(text), 24)]
    stamps = [int(r[:16]) for r in records]
    assert all(r[16:] == "." * 8 for r in records)
    assert before_us <= stamps[0] <= stamps[-1] <= time.time_ns() // 1000
    assert all(c["x_sent_ns"] // 1000 == s for c, s in zip(chunks, stamps))

    start = time.monotonic()
    resp, raw = client.api("POST", "/chat/completions", {
        "model": "GigaChat", "stream": True, "messages": [{"role": "user", "content": "go"}]}, token,
        {"X-Fake-Bench": "5:16:50"})
    assert len(stream_text(raw)[1]) == 6 and time.monotonic() - start >= 0.2


def test_other_endpoints(fake_api: FakeGigaChat, client: Client, tmp_path: Path) -> None:
    token = client.token()
    resp, body = client.api("GET", "/models", token=token)
    models = json.loads(body)
    assert models["object"] == "list" and {"id": "GigaChat-2-Max", "object": "model", "owned_by": "salutedevices", "type": "chat"} in models["data"]
    assert json.loads(client.api("GET", "/models/Embeddings", token=token)[1])["type"] == "embedder"
    resp, body = client.api("GET", "/models/Nope", token=token)
    assert resp.status == 404 and json.loads(body) == {"status": 404, "message": "No such model"}

    emb = json.loads(client.api("POST", "/embeddings", {"model": "Embeddings", "input": ["a", "б"]}, token)[1])
    assert [len(d["embedding"]) for d in emb["data"]] == [1024, 1024] and emb["data"][1]["index"] == 1
    counts = json.loads(client.api("POST", "/tokens/count", {"model": "GigaChat", "input": ["hello world!!", "x"]}, token)[1])
    assert counts == [{"object": "tokens", "tokens": 4, "characters": 13}, {"object": "tokens", "tokens": 1, "characters": 1}]
    assert "balance" in json.loads(client.api("GET", "/balance", token=token)[1])

    # Files through the curl CLI's multipart encoder, as an independent client.
    sample = tmp_path / "pic.jpg"
    sample.write_bytes(bytes(range(256)) * 10 + b"\r\n--tricky\r\n")
    out = subprocess.run(
        ["curl", "-sS", "--cacert", fake_api.ca_file, "-H", f"Authorization: Bearer {token}",
         "-F", f"file=@{sample};type=image/jpeg", "-F", "purpose=general", f"{fake_api.base_url}/files"],
        capture_output=True, check=True, timeout=10,
    )
    meta = json.loads(out.stdout)
    assert meta["bytes"] == sample.stat().st_size and meta["filename"] == "pic.jpg" and meta["purpose"] == "general"
    assert json.loads(client.api("GET", "/files", token=token)[1])["data"] == [meta]
    assert json.loads(client.api("GET", f"/files/{meta['id']}", token=token)[1]) == meta
    resp, content = client.api("GET", f"/files/{meta['id']}/content", token=token)
    assert content == sample.read_bytes() and resp.getheader("Content-Type") == "image/jpeg"
    resp, body = client.api("POST", f"/files/{meta['id']}/delete", token=token)
    assert json.loads(body) == {"id": meta["id"], "deleted": True, "object": "file"}
    assert client.api("GET", f"/files/{meta['id']}", token=token)[0].status == 404


def test_tls_certificates(pki: TestPKI) -> None:
    for cert, reason in (("untrusted", "certificate verify failed"), ("wronghost", "IP address mismatch")):
        with FakeGigaChat(pki, cert=cert) as fake:
            with pytest.raises(ssl.SSLCertVerificationError) as info:
                Client(fake).oauth()
            assert reason in str(info.value)
            assert fake.wait_for(lambda st: st.tls_failures, timeout=2)
    with FakeGigaChat(pki, cert="wronghost") as fake:
        ctx = tls_context(pki)
        with socket.create_connection(("127.0.0.1", fake.port)) as s, ctx.wrap_socket(s, server_hostname="wrong.example"):
            pass  # the certificate itself is fine for the name it carries


# -- standalone ---------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl CLI not installed")
def test_standalone_with_curl(tmp_path: Path, pki: TestPKI) -> None:
    ready, envfile = tmp_path / "ready.json", tmp_path / "fake.env"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fake_gigachat", "--port", "0", "--certdir", str(pki.directory),
         "--ready-file", str(ready), "--env-file", str(envfile), "--key", "c3RhbmQ6YWxvbmU="],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE,
    )
    try:
        assert wait_until(ready.exists, timeout=10), proc.stderr.read1(10000) if proc.stderr else ""
        info = json.loads(ready.read_text())
        env_lines = dict(line.split("=", 1) for line in envfile.read_text().splitlines())
        assert env_lines["GIGACHAT_BASE_URL"] == info["base_url"] and env_lines["GIGACHAT_CREDENTIALS"] == "c3RhbmQ6YWxvbmU="

        def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(["curl", "-sS", "--cacert", info["ca_file"], *args], capture_output=True, timeout=10)

        token = json.loads(curl("-X", "POST", info["auth_url"], "-H", "Authorization: Basic c3RhbmQ6YWxvbmU=",
                                "-H", f"RqUID: {uuid.uuid4()}", "-d", "scope=GIGACHAT_API_PERS").stdout)["access_token"]
        chat = ["-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json", "-d",
                json.dumps({"model": "GigaChat", "stream": True, "messages": [{"role": "user", "content": "Привет"}]}),
                f"{info['base_url']}/chat/completions"]
        out = curl("-N", *chat)
        assert stream_text(out.stdout)[0] == "Echo: Привет"

        ctl = curl("-X", "POST", info["control_url"], "-d", json.dumps({"action": "fault", "path": "chat", "kind": "status", "status": 500}))
        assert json.loads(ctl.stdout)["ok"] is True
        assert curl("-o", "/dev/null", "-w", "%{http_code}", *chat).stdout == b"500"
        bad = curl("-X", "POST", info["control_url"], "-d", json.dumps({"action": "fault", "kind": "nonsense"}))
        assert json.loads(bad.stdout)["ok"] is False
        state = json.loads(curl(info["control_url"]).stdout)["state"]
        assert state["oauth_calls"] == 1 and state["chat_requests"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
