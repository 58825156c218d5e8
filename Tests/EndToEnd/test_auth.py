"""Authentication: the OAuth call itself, single flight, expiry and refresh, 401 handling, and the
other ways to authenticate (short token form, pre-issued token, user/password).
"""

from __future__ import annotations

import base64
import re
import secrets
import time

import pytest

from fake_gigachat import FakeGigaChat
from harness import DaemonFactory, run_parallel

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@pytest.mark.parametrize("scope", ["GIGACHAT_API_PERS", "GIGACHAT_API_B2B"])
def test_oauth_request_is_basic_key_with_rquid_and_scope(fake_api: FakeGigaChat, daemon: DaemonFactory, scope: str) -> None:
    fake_api.configure(scope=scope)
    d = daemon(scope=scope)
    out = d.chat("hi", stream=False)
    assert out.ok, out.final

    calls = fake_api.state.oauth_calls
    assert len(calls) == 1
    call = calls[0]
    assert call.method == "POST" and call.path == "/api/v2/oauth"
    # The key goes out exactly as configured, as Basic (Bearer is refused by the OAuth host).
    assert call.header("Authorization") == f"Basic {fake_api.settings.key}"
    assert UUID_RE.match(call.header("RqUID") or ""), call.header("RqUID")
    assert (call.header("Content-Type") or "").startswith("application/x-www-form-urlencoded")
    assert call.form == {"scope": [scope]}
    assert call.status == 200

    chat = fake_api.state.chat_requests[-1]
    assert chat.header("Authorization") == f"Bearer {fake_api.state.issued_tokens[0]}"


def test_one_oauth_call_however_many_clients_ask_at_once(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    # A slow OAuth endpoint keeps the first fetch in flight while every client arrives.
    fake_api.configure(oauth_delay=0.5)
    d = daemon()
    outs = run_parallel(lambda i: d.chat(f"клиент {i}", stream=i % 2 == 0, timeout=20), 12)
    for i, out in enumerate(outs):
        assert out.ok, out.final
        assert out.content == f"Echo: клиент {i}"
    assert len(fake_api.state.oauth_calls) == 1, "single flight: exactly one OAuth call"
    assert len({r.token for r in fake_api.state.chat_requests}) == 1


def test_token_expiry_and_refresh_under_concurrent_load(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    lifetime = 2.0
    fake_api.configure(token_lifetime=lifetime, chunks=3, chunk_interval=0.01)
    d = daemon(env={"GIGACHAT_TOKEN_EXPIRY_BUFFER_MS": "500"})
    start = time.monotonic()
    rounds = 3
    for r in range(rounds):
        outs = run_parallel(lambda i: d.chat(f"раунд {r} клиент {i}", timeout=20), 6)
        for i, out in enumerate(outs):
            assert out.ok, f"round {r} client {i}: {out.final}"
            assert out.content == f"Echo: раунд {r} клиент {i}"
        if r < rounds - 1:
            time.sleep(lifetime + 0.2)  # the token in use has now expired
    elapsed = time.monotonic() - start

    times = [c.t for c in fake_api.state.oauth_calls]
    assert len(times) >= rounds, "each round needed a fresh token"
    assert len(times) <= elapsed / 1.0 + 2, f"{len(times)} OAuth calls in {elapsed:.1f}s: more than one per expiry"
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.8, f"OAuth calls {gaps} s apart: concurrent clients refreshed separately"
    assert fake_api.state.unauthorized == 0, "the daemon sent an expired token instead of refreshing first"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_401_mid_life_refreshes_once_and_retries_once(fake_api: FakeGigaChat, daemon: DaemonFactory, stream: bool) -> None:
    d = daemon()
    assert d.chat("разогрев", stream=False).ok
    assert len(fake_api.state.oauth_calls) == 1
    fake_api.revoke_tokens()  # the token still looks fresh to the daemon, but the API says 401

    out = d.chat("после отзыва", stream=stream)
    assert out.ok, out.final
    assert out.content == "Echo: после отзыва"
    if stream:
        assert out.delta_text == out.content, "nothing duplicated by the retry"

    assert len(fake_api.state.oauth_calls) == 2
    attempts = fake_api.state.chat_requests[1:]
    assert [a.status for a in attempts] == [401, 200]
    assert attempts[0].token == fake_api.state.issued_tokens[0]
    assert attempts[1].token == fake_api.state.issued_tokens[1]


def test_a_second_401_is_an_error_not_a_loop(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "0"})
    assert d.chat("разогрев", stream=False).ok
    fake_api.inject("chat", "unauthorized", times=-1)

    out = d.chat("всегда 401", stream=False, timeout=20)
    err = out.error
    assert err["data"]["status"] == 401
    assert err["message"]
    attempts = fake_api.state.chat_requests[1:]
    assert len(attempts) == 2, f"one try and one retry after a refresh, got {len(attempts)} attempts"
    # One refresh for the retry; a daemon may also re-fetch right after dropping the refused token.
    assert 2 <= len(fake_api.state.oauth_calls) <= 3


@pytest.mark.parametrize("fmt", ["tok_ms", "tok_s"])
def test_short_token_form_with_either_unit(fake_api: FakeGigaChat, daemon: DaemonFactory, fmt: str) -> None:
    # {"tok","exp"}; exp < 10^12 means seconds (reference §2.2). Misreading seconds as milliseconds
    # makes every token look expired and costs an OAuth call per request.
    fake_api.configure(token_format=fmt)
    d = daemon()
    for i in range(3):
        out = d.chat(f"вопрос {i}", stream=i == 1)
        assert out.ok, out.final
    assert len(fake_api.state.oauth_calls) == 1
    assert fake_api.state.unauthorized == 0


def test_pre_issued_access_token_is_used_as_is(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    token = fake_api.add_token()
    d = daemon(credentials=False, env={"GIGACHAT_ACCESS_TOKEN": token})
    out = d.chat("с готовым токеном")
    assert out.ok, out.final
    assert fake_api.state.chat_requests[-1].token == token
    assert fake_api.state.oauth_calls == []


def test_user_and_password_auth(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    password = "pw-" + secrets.token_urlsafe(16)
    fake_api.configure(user="alice", password=password)
    d = daemon(credentials=False, env={"GIGACHAT_USER": "alice", "GIGACHAT_PASSWORD": password})
    out = d.chat("по паролю", stream=False)
    assert out.ok, out.final
    calls = fake_api.state.password_calls
    assert len(calls) == 1
    assert calls[0].header("Authorization") == "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()
    assert fake_api.state.oauth_calls == []
    assert fake_api.state.chat_requests[-1].token == fake_api.state.issued_tokens[-1]
