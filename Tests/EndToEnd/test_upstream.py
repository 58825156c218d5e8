"""What the API sends back, at its most awkward: SSE framing variants, a stream that breaks off, and
error statuses with JSON or HTML bodies.
"""

from __future__ import annotations

from typing import Any

import pytest

from fake_gigachat import FakeGigaChat
from harness import DaemonFactory

# Cyrillic (2-byte UTF-8), an emoji (4 bytes), '": "' (split-on-': ' bugs), and "data: [DONE]"
# inside the content (parsers that search the line instead of comparing it).
TRICKY = 'Привет, "мир": data: [DONE] — ёжик 🙂\tконец'


@pytest.mark.parametrize(
    "flags",
    ["crlf", "nospace", "leading_blank", "split", "crlf+nospace+leading_blank+split"],
)
def test_sse_framing_variants_give_the_exact_text(fake_api: FakeGigaChat, daemon: DaemonFactory, flags: str) -> None:
    fake_api.configure(sse=flags, chunks=6)
    d = daemon()
    out = d.chat(TRICKY)
    expected = "Echo: " + TRICKY
    assert out.ok, out.final
    assert out.delta_text == expected
    assert out.content == expected
    assert out.result["choices"][0]["finish_reason"] == "stop"
    if "split" in flags:
        assert len(fake_api.state.chat_requests[-1].pieces) > 12, "the fake really did split the stream"


def test_content_with_json_escapes_and_colons(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    pieces = ['{"a": "b"}', "\n", "строка 2\\n", '"в кавычках"', " data: x", "\u0000\u001f", "конец"]
    fake_api.inject("chat", reply_chunks=pieces)
    d = daemon()
    out = d.chat("что угодно")
    assert out.ok, out.final
    assert out.delta_text == "".join(pieces)
    assert out.content == "".join(pieces)


def test_stream_without_done_is_an_error_and_the_partial_text_is_not_lost(
    fake_api: FakeGigaChat, daemon: DaemonFactory
) -> None:
    fake_api.configure(chunks=4)
    fake_api.inject("chat", "truncate", chunks=2)  # two content events, then a clean end of body
    d = daemon()
    out = d.chat(TRICKY, timeout=20)
    assert "error" in out.final, f"a stream that ended without [DONE] was reported as success: {out.final}"
    assert out.error["message"]
    sent = fake_api.state.chat_requests[0].sent_content
    assert sent and out.delta_text == sent, "the text that did arrive reached the client, once"
    assert len(fake_api.state.chat_requests) == 1, "no silent retry after text was already delivered"

    out = d.chat("снова", stream=True)  # the daemon is fine afterwards
    assert out.ok, out.final


def assert_clean_error(final: dict[str, Any], status: int, text: str | None) -> None:
    assert "error" in final, final
    err = final["error"]
    assert isinstance(err.get("code"), int)
    assert err["data"]["status"] == status
    message = err["message"]
    assert isinstance(message, str) and message
    assert "<" not in message and "\n" not in message and len(message) < 500, f"not a clean message: {message!r}"
    if text is not None:
        assert text in message, f"{text!r} not in {message!r}"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize(
    "kind,params,status,text",
    [
        ("status", {"status": 500, "message": "Internal Server Error"}, 500, "Internal Server Error"),
        ("html", {"status": 502}, 502, None),
        ("status", {"status": 422, "message": "Invalid params: only one system message is allowed"}, 422,
         "only one system message is allowed"),
    ],
    ids=["500-json", "502-html", "422-json"],
)
def test_upstream_errors_become_clean_error_responses(
    fake_api: FakeGigaChat, daemon: DaemonFactory, kind: str, params: dict[str, Any], status: int,
    text: str | None, stream: bool,
) -> None:
    fake_api.inject("chat", kind, times=-1, **params)  # persistent: retries (if any) fail too
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "0"})
    with d.connect() as conn:
        out = conn.chat("x", stream=stream, id=5, timeout=20)
        assert out.final["id"] == 5
        assert_clean_error(out.final, status, text)
        assert out.notifications == []

        fake_api.clear_faults()
        out = conn.chat("после ошибки", stream=stream, id=6)
        assert out.ok, out.final


def test_unknown_model_reports_the_apis_404(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    out = d.chat("x", model="GigaChat-Nonexistent", stream=True)
    assert_clean_error(out.final, 404, "No such model")
