"""JSON-RPC 2.0 over the socket, line by line, as docs/PROTOCOL.md specifies it.

Error codes asserted here are the JSON-RPC standard ones; the application codes for upstream
failures are not final, so other tests assert on data.status and message text only.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from fake_gigachat import FakeGigaChat
from harness import DaemonFactory, RpcConnection, chat_params


def user(content: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


def assert_error(msg: dict[str, Any], code: int, ids: tuple[Any, ...]) -> None:
    assert msg.get("jsonrpc") == "2.0", msg
    assert "id" in msg and any(msg["id"] == i and type(msg["id"]) is type(i) for i in ids), (
        f"expected id in {ids!r}: {msg}"
    )
    assert "result" not in msg, msg
    err = msg.get("error")
    assert isinstance(err, dict) and err.get("code") == code, f"expected error code {code}: {msg}"
    assert isinstance(err.get("message"), str) and err["message"], msg


def test_request_without_jsonrpc_member_is_accepted(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        conn.send({"id": 7, "method": "chat", "params": {"messages": user("hand-typed"), "stream": True}})
        out = conn.collect(7)
    assert out.ok, out.final
    assert out.final["jsonrpc"] == "2.0" and out.final["id"] == 7
    assert all(n["jsonrpc"] == "2.0" for n in out.notifications)
    assert out.content == out.delta_text == "Echo: hand-typed"


def test_notification_runs_and_gets_no_reply(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        conn.request("chat", {"messages": user("уведомление"), "stream": False}, id=None)
        assert fake_api.wait_for(
            lambda st: any(r.done and r.json["messages"] == user("уведомление") for r in st.chat_requests), timeout=5
        ), "a notification still runs"
        assert conn.expect_silence(0.5) == [], "a notification gets no reply"
        out = conn.chat("после уведомления", stream=False, id=2)
        assert out.ok, out.final
        assert all("id" not in m or m["id"] == 2 for m in conn.received)


def test_many_requests_in_flight_on_one_connection(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.configure(chunks=3, chunk_interval=0.01)
    d = daemon()
    ids: list[Any] = [1, "1", "two", 3, "четыре", 5, 0]
    with d.connect() as conn:
        for i in ids:  # all sent before any answer is read
            conn.request("chat", chat_params(f"вопрос {i!r}", stream=isinstance(i, int)), id=i)
        outcomes = {repr(i): conn.collect(i, timeout=20) for i in reversed(ids)}
        assert conn.expect_silence(0.3) == [], "exactly one final response per id"
    for i in ids:
        out = outcomes[repr(i)]
        assert out.ok, out.final
        assert out.final["id"] == i and type(out.final["id"]) is type(i)
        assert out.content == f"Echo: вопрос {i!r}"
        if isinstance(i, int):
            assert out.delta_text == out.content
        else:
            assert out.notifications == []
    assert len(fake_api.state.chat_requests) == len(ids)


# (line, expected code, acceptable ids in the error response)
BAD_LINES = [
    (b"this is not json", -32700, (None,)),
    (b'{"jsonrpc":"2.0","id":1,"method":"chat"', -32700, (None,)),  # cut off
    (b'[{"jsonrpc":"2.0","id":2,"method":"chat","params":{}}]', -32600, (None,)),  # batches: not supported
    (b"42", -32600, (None,)),
    (b'"chat"', -32600, (None,)),
    (b'{"jsonrpc":"2.0","id":3,"method":"no.such.method"}', -32601, (3,)),
    (b'{"jsonrpc":"2.0","id":4,"method":"chat","params":{"messages":"hi"}}', -32602, (4,)),
    (b'{"jsonrpc":"2.0","id":5,"method":"chat","params":{}}', -32602, (5,)),
    (b'{"jsonrpc":"2.0","id":"six","method":"chat"}', -32602, ("six",)),
    (b'{"jsonrpc":"2.0","id":7,"method":42}', -32600, (7, None)),
    (b'{"jsonrpc":"1.0","id":8,"method":"chat","params":{"messages":[{"role":"user","content":"x"}]}}', -32600, (8, None)),
]


def test_bad_lines_get_errors_and_the_connection_stays_usable(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        for line, code, ids in BAD_LINES:
            conn.send_line(line)
            msg = conn.read_message()
            assert msg is not None, f"connection closed after {line!r}"
            assert_error(msg, code, ids)
        out = conn.chat("всё ещё работает", id=99)
        assert out.ok, out.final
        assert out.content == "Echo: всё ещё работает"
    assert len(fake_api.state.chat_requests) == 1, "no bad line may reach the API"


@pytest.mark.parametrize("newline", [True, False], ids=["long-line", "never-ending-line"])
def test_over_long_line_gets_an_error_then_the_connection_closes(
    fake_api: FakeGigaChat, daemon: DaemonFactory, newline: bool
) -> None:
    d = daemon(env={"GIGACHATD_MAX_LINE_BYTES": "1024"})
    with d.connect() as ok_conn:
        fits = chat_params("x" * 700, stream=False)  # about 750 bytes: under the cap
        out = ok_conn.chat(fits["messages"], stream=False)
        assert out.ok, out.final

        big = RpcConnection(d.socket_path, transcript=d.transcript, diagnostics=d.diagnostics)
        d.connections.append(big)
        # 64 KiB: without a newline too, the daemon must give up at the cap, not wait for the end.
        payload = b'{"jsonrpc":"2.0","id":1,"method":"chat","params":{"messages":[{"role":"user","content":"'
        payload += b"y" * 65536 + b'"}]}}' + (b"\n" if newline else b"")
        send_until_closed(big, payload)
        messages = big.expect_eof(timeout=5)
        assert len(messages) == 1, f"expected one error line before the close, got {messages}"
        assert "error" in messages[0] and messages[0].get("jsonrpc") == "2.0", messages[0]

        out = ok_conn.chat("другое соединение не пострадало", stream=False)
        assert out.ok, out.final
    assert [r.json["messages"][0]["content"][:1] for r in fake_api.state.chat_requests] == ["x", "д"]


def send_until_closed(conn: RpcConnection, data: bytes) -> None:
    """Send as much as the daemon takes; it may close (or stop reading) before the end."""
    conn.sock.settimeout(2)
    try:
        conn.sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass


@pytest.mark.parametrize("when", ["running", "queued"])
def test_cancel_ends_the_request_with_its_own_error_and_aborts_the_upstream(
    fake_api: FakeGigaChat, daemon: DaemonFactory, when: str
) -> None:
    """cancel {"id": X} stops X (queued or running), aborts its transfer, and X still ends with
    -32800; the connection and the daemon stay healthy."""
    fake_api.configure(chunks=40, chunk_interval=0.1)
    d = daemon()  # personal scope: one request upstream at a time, the next one queues
    with d.connect() as conn:
        conn.request("chat", chat_params("долгий ответ"), id="long")
        assert fake_api.wait_for(lambda st: st.chat_in_flight >= 1, timeout=5)
        target = "long"
        if when == "queued":
            conn.request("chat", chat_params("в очереди"), id="waiting")
            target = "waiting"
            time.sleep(0.2)
        _, cancelled = conn.call("cancel", {"id": target})
        assert cancelled["result"] == {"cancelled": True}, cancelled
        out = conn.collect(target, timeout=10)
        assert "error" in out.final, out.final
        assert out.final["error"]["code"] == -32800, out.final
        if when == "running":
            assert fake_api.wait_for(lambda st: len(st.disconnects) >= 1, timeout=2), \
                "the upstream transfer of a cancelled request is aborted"
        else:
            conn.call("cancel", {"id": "long"})
            conn.collect("long", timeout=10)
            assert [r.json["messages"][0]["content"] for r in fake_api.state.chat_requests] == ["долгий ответ"], \
                "a cancelled queued request never reaches the API"
        _, missing = conn.call("cancel", {"id": "nope"})
        assert missing["result"] == {"cancelled": False}
        out = conn.chat("после отмены")
        assert out.ok, out.final
