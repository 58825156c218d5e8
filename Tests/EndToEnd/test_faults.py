"""The upstream fault matrix ) |
| 429 + Retry-After before any byte | wait as told (bounded), retry; past the bound an error with data.retry_after |
| 5xx / refused / reset before the first byte | retry with backoff and jitter, bounded, then a clear error |
| reset after bytes were streamed | error with data.partial = true, no silent retry |
| stall for GIGACHAT_TIMEOUT | error, transfer aborted, connection not reused |
| malformed SSE / JSON chunk | error to that client, daemon unaffected |
| OAuth endpoint down at start-up | daemon starts and serves status; clear errors; recovers by itself |
| untrusted certificate / wrong host name | refused, message names the cause and GIGACHAT_CA_BUNDLE_FILE |
"""

from __future__ import annotations

import socket
import time

import pytest

from fake_gigachat import FakeGigaChat
from harness import DaemonFactory, wait_until
from pki import TestPKI

UPSTREAM_ERROR = -32003
UPSTREAM_UNAVAILABLE = -32004
UPSTREAM_PROTOCOL = -32005
RATE_LIMITED = -32002


def chat_attempts(fake: FakeGigaChat) -> int:
    return len(fake.state.chat_requests)


def test_429_with_retry_after_is_waited_out_and_retried(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.inject("chat", "rate_limit", retry_after=1, times=1)
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "2"})
    started = time.monotonic()
    out = d.chat("после паузы")
    elapsed = time.monotonic() - started
    assert out.ok, out.final
    assert out.content == "Echo: после паузы"
    assert chat_attempts(fake_api) == 2
    assert elapsed >= 0.9, f"the daemon retried after {elapsed:.2f}s, before the 1 s the API asked for"


def test_429_asking_for_more_than_the_bound_is_an_error_with_retry_after(
    fake_api: FakeGigaChat, daemon: DaemonFactory
) -> None:
    fake_api.inject("chat", "rate_limit", retry_after=120, times=-1)
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "3", "GIGACHATD_MAX_RETRY_AFTER": "5"})
    started = time.monotonic()
    out = d.chat("слишком долго")
    assert time.monotonic() - started < 4, "the daemon must not sit out a Retry-After beyond its bound"
    assert out.error["code"] == RATE_LIMITED, out.final
    assert out.error["data"]["retry_after"] == 120
    assert out.error["data"]["status"] == 429
    assert chat_attempts(fake_api) == 1


@pytest.mark.parametrize("kind", ["status", "html", "reset"])
def test_transient_failures_before_the_first_byte_are_retried(
    fake_api: FakeGigaChat, daemon: DaemonFactory, kind: str
) -> None:
    params = {"status": 503} if kind in ("status", "html") else {}
    fake_api.inject("chat", kind, times=2, **params)
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "3", "GIGACHAT_RETRY_BACKOFF_FACTOR": "0.05"})
    out = d.chat("третья попытка")
    assert out.ok, out.final
    assert out.content == "Echo: третья попытка"
    assert chat_attempts(fake_api) == 3, "two failures, then the retry that worked"
    assert out.delta_text == out.content, "no text was repeated by the retries"


def test_retries_are_bounded_and_end_in_a_clear_error(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.inject("chat", "status", status=503, times=-1)
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "2", "GIGACHAT_RETRY_BACKOFF_FACTOR": "0.05"})
    started = time.monotonic()
    out = d.chat("никогда")
    assert time.monotonic() - started < 5
    assert out.error["code"] == UPSTREAM_ERROR, out.final
    assert out.error["data"]["status"] == 503
    assert chat_attempts(fake_api) == 3, "the first try and exactly GIGACHAT_MAX_RETRIES retries"


def test_refused_connection_is_retried_then_reported(pki: TestPKI, fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    d = daemon(env={
        "GIGACHAT_BASE_URL": f"https://127.0.0.1:{port}/api/v1",
        "GIGACHAT_MAX_RETRIES": "2",
        "GIGACHAT_RETRY_BACKOFF_FACTOR": "0.05",
    })
    started = time.monotonic()
    out = d.chat("есть кто?")
    assert time.monotonic() - started < 5
    assert out.error["code"] == UPSTREAM_UNAVAILABLE, out.final
    assert out.error["data"]["reason"] == "connect"
    assert "reach" in out.error["message"].lower() or "connect" in out.error["message"].lower()


def test_reset_after_text_was_streamed_is_partial_and_never_retried(
    fake_api: FakeGigaChat, daemon: DaemonFactory
) -> None:
    fake_api.configure(chunks=6)
    fake_api.inject("chat", "reset_after", chunks=3)
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "3"})
    out = d.chat("оборвётся")
    assert "error" in out.final, out.final
    assert out.error["code"] == UPSTREAM_PROTOCOL
    assert out.error["data"]["partial"] is True
    assert "partial" in out.error["message"]
    assert out.delta_text, "the text that did arrive was streamed"
    assert out.error["data"]["result"]["choices"][0]["message"]["content"] == out.delta_text
    assert chat_attempts(fake_api) == 1, "no silent retry that would repeat text"


def test_stall_times_out_aborts_and_does_not_reuse_the_connection(
    fake_api: FakeGigaChat, daemon: DaemonFactory
) -> None:
    fake_api.configure(chunks=6)
    d = daemon(env={"GIGACHAT_TIMEOUT": "1", "GIGACHAT_MAX_RETRIES": "0"})
    assert d.chat("прогрев").ok  # token fetched, a kept-alive connection exists
    fake_api.inject("chat", "stall_after", chunks=2, seconds=8)
    connections_before = fake_api.state.connections_accepted
    started = time.monotonic()
    out = d.chat("замрёт")
    elapsed = time.monotonic() - started
    assert "error" in out.final, out.final
    assert out.error["data"]["reason"] == "timeout"
    assert out.error["data"].get("partial") is True
    assert elapsed < 4, f"a 1 s GIGACHAT_TIMEOUT took {elapsed:.1f}s to fire"
    assert wait_until(lambda: len(fake_api.state.disconnects) >= 1, 3), "the stalled transfer was aborted"

    connections_after_stall = fake_api.state.connections_accepted
    out = d.chat("снова")
    assert out.ok, out.final
    assert connections_before >= 1
    assert fake_api.state.connections_accepted == connections_after_stall + 1, \
        "the aborted connection must not be reused: the next request opens a new one"


def test_malformed_chunk_fails_that_client_only(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.configure(chunks=5)
    fake_api.inject("chat", "malformed", chunks=2)
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "0"})
    with d.connect() as other:
        out = d.chat("битый кусок")
        assert "error" in out.final, out.final
        assert out.error["code"] == UPSTREAM_PROTOCOL
        assert out.error["data"]["reason"] == "malformed"
        _, status = other.call("status")
        assert "result" in status, status
    out = d.chat("целый")
    assert out.ok, out.final


def test_oauth_down_at_start_up_then_recovers_by_itself(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.oauth_down("503")
    d = daemon()
    with d.connect() as conn:
        status = conn.call("status")[1]["result"]
        assert status["state"] == "running"
        assert wait_until(lambda: conn.call("status")[1]["result"]["token"]["last_error"] is not None, 5)
        out = conn.chat("без токена")
        assert "error" in out.final, out.final
        assert "token" in out.error["message"].lower() or "oauth" in out.error["message"].lower()
        fake_api.oauth_up()
        # The background refresh loop retries with backoff (1 s, 2 s, ...): no request needed.
        assert wait_until(lambda: conn.call("status")[1]["result"]["token"]["refreshes"] >= 1, 15), \
            "the daemon did not fetch a token by itself after the OAuth endpoint came back"
        out = conn.chat("с токеном")
        assert out.ok, out.final


@pytest.mark.parametrize("cert", ["untrusted", "wronghost"])
def test_tls_problems_are_refused_with_a_useful_message(pki: TestPKI, daemon: DaemonFactory, cert: str) -> None:
    fake = FakeGigaChat(pki, cert=cert).start()
    try:
        d = daemon(fake=fake, env={"GIGACHAT_MAX_RETRIES": "0"})
        out = d.chat("кто ты?")
        assert "error" in out.final, out.final
        message = out.error["message"]
        assert "GIGACHAT_CA_BUNDLE_FILE" in message, message
        assert "TLS" in message or "certificate" in message.lower(), message
        assert not fake.state.chat_requests, "nothing was sent over an unverified connection"
    finally:
        fake.stop()
