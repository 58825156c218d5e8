"""gigachatctl never waits forever and says what happened in plain words.

A stand-in for gigachatd (a Python socket server on the default socket path) plays what a real setup
can do: accept and say nothing (a stuck process, or systemd holding the socket of a daemon that cannot
start), close or reset the connection without a word (a socket-activated daemon that exited 78), keep
a request queued (`request.queued`), or answer slowly while showing that it is alive. The real daemon
and the fake API cover --timeout and the wording of errors.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from fake_gigachat import V2_CHAT_PATH, FakeGigaChat
from harness import DaemonFactory, TestEnv
from test_ctl import pty_ctl  # noqa: F401  (a fixture)

RESULT = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "готово"}, "finish_reason": "stop"}],
          "created": 1, "model": "GigaChat", "object": "chat.completion",
          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class StandIn:
    """A socket server at `path` whose connections are handled by `behaviour(conn, server)`."""

    def __init__(self, path: Path, behaviour: Callable[[socket.socket, "StandIn"], None], accept: bool = True) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(path))
        self.listener.listen(8)
        self.behaviour = behaviour
        self.received: list[dict[str, Any]] = []
        self.stopped = threading.Event()
        self.connections: list[socket.socket] = []
        target = self._serve if accept else self._never_accept
        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            ready, _, _ = select.select([self.listener], [], [], 0.05)
            if not ready:
                continue
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.behaviour(conn, self)
        except OSError:
            pass

    def _never_accept(self) -> None:
        # What systemd does when the service it starts for the socket keeps failing: it gives up and
        # closes the listening socket, and the connections waiting in its backlog are reset.
        select.select([self.listener], [], [], 10)
        time.sleep(0.3)
        self.listener.close()

    def read_requests(self, conn: socket.socket, buffer: bytearray) -> list[dict[str, Any]]:
        """Waits for at least one line; returns the requests it completes."""
        while b"\n" not in buffer:
            chunk = conn.recv(65536)
            if not chunk:
                raise OSError("closed")
            buffer += chunk
        lines, _, rest = bytes(buffer).rpartition(b"\n")
        buffer[:] = rest
        requests = [json.loads(line) for line in lines.split(b"\n") if line.strip()]
        self.received += requests
        return requests

    def stop(self) -> None:
        self.stopped.set()
        for conn in self.connections:
            try:
                conn.close()
            except OSError:
                pass
        try:
            self.listener.close()
        except OSError:
            pass
        try:
            os.unlink(self.path)
        except OSError:
            pass


def send(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps({"jsonrpc": "2.0", **message}, ensure_ascii=False).encode() + b"\n")


@pytest.fixture
def stand_in(testenv: TestEnv) -> Any:
    started: list[StandIn] = []

    def start(behaviour: Callable[[socket.socket, StandIn], None], accept: bool = True) -> StandIn:
        s = StandIn(testenv.default_socket, behaviour, accept)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def silent(conn: socket.socket, server: StandIn) -> None:
    buffer = bytearray()
    server.read_requests(conn, buffer)
    server.stopped.wait(30)


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr:\n{stderr}"
    assert lines[0].startswith("gigachatctl: "), lines[0]
    return lines[0]


# --------------------------------------------------------------------------------------------------
# A daemon that never answers


@pytest.mark.parametrize("args", [("chat", "привет"), ("status",), ("models",), ("chat", "-i")], ids="-".join)
def test_a_daemon_that_accepts_and_says_nothing(stand_in: Any, run_ctl: Any, testenv: TestEnv, args: tuple[str, ...]) -> None:
    stand_in(silent)
    started = time.monotonic()
    r = run_ctl("--connect-timeout", "1", *args, input="привет\n", timeout=20)
    elapsed = time.monotonic() - started
    assert r.returncode == 3, r
    assert elapsed < 5, f"gave up only after {elapsed:.1f} s"
    line = one_line(r.stderr)
    assert "did not answer within 1 s (--connect-timeout)" in line and str(testenv.default_socket) in line, line
    assert "systemctl --user status gigachatd" in line, line
    assert r.stdout == ""


def test_the_default_wait_is_ten_seconds(stand_in: Any, run_ctl: Any) -> None:
    stand_in(silent)
    started = time.monotonic()
    r = run_ctl("chat", "привет", timeout=30)
    elapsed = time.monotonic() - started
    assert r.returncode == 3 and "within 10 s" in r.stderr, r
    assert 9.5 <= elapsed < 14, elapsed


def test_help_documents_the_waits(run_ctl: Any) -> None:
    r = run_ctl("chat", "--help")
    assert "--connect-timeout <seconds>" in r.stdout and "default: 10 s" in r.stdout, r.stdout
    assert "--timeout <seconds>" in r.stdout, r.stdout
    assert "10 s" in run_ctl("--help").stdout


def slow_but_alive(conn: socket.socket, server: StandIn) -> None:
    """Answers `status` at once, the chat only after 2.5 s: busy, not stuck."""
    buffer = bytearray()
    started = time.monotonic()
    chat_id = None
    while True:
        timeout = max(0.0, 2.5 - (time.monotonic() - started)) if chat_id is not None else None
        ready, _, _ = select.select([conn], [], [], timeout)
        if ready:
            for request in server.read_requests(conn, buffer):
                if request["method"] == "status":
                    send(conn, {"id": request["id"], "result": {"state": "running"}})
                elif request["method"] == "chat.create":
                    chat_id = request["id"]
        elif chat_id is not None:
            send(conn, {"id": chat_id, "result": RESULT})
            server.stopped.wait(5)
            return


def test_a_slow_answer_from_a_live_daemon_is_waited_for(stand_in: Any, run_ctl: Any) -> None:
    server = stand_in(slow_but_alive)
    r = run_ctl("--connect-timeout", "1.5", "chat", "--no-stream", "долгий ответ")
    assert r.returncode == 0 and r.stdout == "готово\n", r
    assert [m["method"] for m in server.received][:2] == ["chat.create", "status"], "no liveness check was made"
    r = run_ctl("--connect-timeout", "1.5", "chat", "--json", "--no-stream", "ещё")
    assert r.returncode == 0, r
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines == [{"jsonrpc": "2.0", "id": 1, "result": RESULT}], "the liveness check's answer is not the script's business"


# --------------------------------------------------------------------------------------------------
# A daemon that could not start: the connection closes or is reset before any answer


def close_at_once(conn: socket.socket, server: StandIn) -> None:
    conn.close()


def reset(conn: socket.socket, server: StandIn) -> None:
    # Closing a Unix socket with unread data in it resets the peer (ECONNRESET).
    select.select([conn], [], [], 5)
    time.sleep(0.1)
    conn.close()


@pytest.mark.parametrize("how", ["closed", "reset", "never-accepted"])
@pytest.mark.parametrize("args", [("chat", "привет"), ("status",), ("chat", "-i")], ids="-".join)
def test_a_daemon_that_could_not_start(stand_in: Any, run_ctl: Any, how: str, args: tuple[str, ...]) -> None:
    if how == "never-accepted":
        stand_in(silent, accept=False)
    else:
        stand_in(close_at_once if how == "closed" else reset)
    r = run_ctl(*args, input="привет\n")
    assert r.returncode == 3, r
    line = one_line(r.stderr)
    assert "gigachatd could not start: see systemctl --user status gigachatd" in line, line
    assert "reset" not in line.lower() and "Connection" not in line, line


# --------------------------------------------------------------------------------------------------
# A queued request


def queued(conn: socket.socket, server: StandIn) -> None:
    buffer = bytearray()
    (request,) = server.read_requests(conn, buffer)
    rid = request["id"]
    for ahead in (2, 1):
        send(conn, {"method": "request.queued", "params": {"id": rid, "ahead": ahead}})
        time.sleep(0.8)
    for piece in ("го", "тово"):
        send(conn, {"method": "chat.delta", "params": {"id": rid, "content": piece}})
    send(conn, {"id": rid, "result": RESULT})
    server.stopped.wait(5)


def test_a_queued_request_shows_its_place_on_a_terminal(stand_in: Any, pty_ctl: Any) -> None:
    stand_in(queued)
    # Queued for 1.6 s with a first-line limit of 1 s: the notice itself shows the daemon alive.
    t = pty_ctl("--connect-timeout", "1", "chat", "привет", env={"NO_COLOR": "1"})
    t.expect("waiting: 2 requests ahead")
    t.expect("waiting: 1 request ahead")
    t.expect("готово")
    assert t.wait() == 0
    screen = t.raw.decode()
    last_notice = screen.rindex("waiting: 1 request ahead")
    assert "\r\x1b[K" in screen[last_notice:screen.index("го", last_notice)], "the notice is not erased before the reply"


def test_a_queued_request_in_a_script(stand_in: Any, run_ctl: Any) -> None:
    stand_in(queued)
    r = run_ctl("--connect-timeout", "1", "chat", "привет")
    assert r.returncode == 0 and r.stdout == "готово\n" and r.stderr == "", r
    r = run_ctl("chat", "--json", "привет")
    methods = [json.loads(line).get("method") for line in r.stdout.splitlines()]
    assert methods == ["request.queued", "request.queued", "chat.delta", "chat.delta", None], r.stdout


# --------------------------------------------------------------------------------------------------
# --timeout, with the real daemon


def test_total_timeout_cancels_the_request(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    fake_api.configure(chunks=20, chunk_interval=0.3)
    d = daemon()
    started = time.monotonic()
    r = run_ctl("chat", "--timeout", "1", "медленно")
    assert r.returncode == 1, r
    assert time.monotonic() - started < 5
    assert r.stdout.startswith("Ec") and r.stdout.endswith("\n"), r
    line = one_line(r.stderr)
    assert "no complete answer within 1 s (--timeout)" in line and line.count("incomplete") == 1, line
    assert fake_api.wait_for(lambda s: any(x["route"] == V2_CHAT_PATH for x in s.disconnects), 5), \
        "the upstream transfer was not aborted"
    r = run_ctl("--timeout", "1", "chat", "--json", "медленно")
    assert r.returncode == 1 and r.stderr == "", r
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    finals = [m for m in lines if "method" not in m]
    assert len(finals) == 1 and finals[0]["id"] == 1, "one final line, and only the request's: not the cancel's"
    assert finals[0]["error"]["code"] == -32800
    fake_api.configure(chunk_interval=0.0)
    assert run_ctl("chat", "--timeout", "10", "быстро").returncode == 0
    assert d.running


@pytest.mark.parametrize("args,complaint", [
    (("--timeout", "0", "status"), "--timeout must be"),
    (("--timeout", "-3", "status"), "--timeout must be"),
    (("--connect-timeout", "0", "status"), "--connect-timeout must be"),
])
def test_bad_timeouts_are_bad_usage(run_ctl: Any, args: tuple[str, ...], complaint: str) -> None:
    r = run_ctl(*args)
    assert r.returncode == 64 and complaint in r.stderr, r


# --------------------------------------------------------------------------------------------------
# Errors read like sentences


def test_a_broken_stream_is_reported_on_its_own_line_once(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, pty_ctl: Any
) -> None:
    fake_api.configure(chunks=4)
    fake_api.inject("v2", "reset_after", chunks=2, times=-1)
    daemon(env={"GIGACHAT_MAX_RETRIES": "0"})
    r = run_ctl("chat", "hello there")
    assert r.returncode == 1, r
    assert r.stdout.startswith("Echo:") and r.stdout.endswith("\n"), r
    line = one_line(r.stderr)
    assert line.count("incomplete") == 1 and "partial" not in line, line
    assert "Failure when receiving data from the peer" not in line, line
    t = pty_ctl("chat", "hello there", env={"NO_COLOR": "1"})
    assert t.wait() == 1
    shown = t.text.split("\n")
    error_row = next(i for i, row in enumerate(shown) if "gigachatctl:" in row)
    assert shown[error_row].startswith("gigachatctl:"), shown
    assert shown[error_row - 1].startswith("Echo:"), shown


def test_a_broken_reply_without_streaming_shows_what_came(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    fake_api.configure(chunks=4)
    fake_api.inject("v2", "reset_after", chunks=2, times=-1)
    daemon(env={"GIGACHAT_MAX_RETRIES": "0"})
    r = run_ctl("chat", "--json", "--no-stream", "hello there")
    error = json.loads(r.stdout.splitlines()[-1])["error"]
    result = (error.get("data") or {}).get("result") or {}
    partial = "".join(p.get("text", "") for m in result.get("messages", []) if m.get("role") == "assistant"
                      for p in m.get("content") or [])
    r = run_ctl("chat", "--no-stream", "hello there")
    assert r.returncode == 1, r
    if partial:
        assert r.stdout == partial + "\n" and "incomplete" in r.stderr, r
    else:
        assert r.stdout == "" and "incomplete" not in r.stderr, r


def test_an_unreachable_api_is_said_without_libcurl_repeating_itself(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any
) -> None:
    daemon(env={"GIGACHAT_BASE_URL": "https://127.0.0.1:1/api/v1", "GIGACHAT_MAX_RETRIES": "0"})
    r = run_ctl("chat", "привет")
    assert r.returncode == 1, r
    line = one_line(r.stderr)
    assert "127.0.0.1" in line and "Couldn't connect to server" not in line, line
    r = run_ctl("chat", "--json", "привет")
    assert "Couldn't connect to server" in r.stdout or "connect" in r.stdout, "--json passes the daemon's words on"


@pytest.mark.parametrize("args", [("--bogus",), ("chat", "--temperature"), ("models", "get"), ("files", "frobnicate"),
                                  ("chat", "-i", "--json")], ids="-".join)
def test_usage_errors_have_the_same_style(run_ctl: Any, args: tuple[str, ...]) -> None:
    r = run_ctl(*args)
    assert r.returncode == 64, r
    assert r.stderr.startswith("gigachatctl: ") and "Error:" not in r.stderr, r
    first = r.stderr.splitlines()[0][len("gigachatctl: "):]
    assert not (first[0].isupper() and first[1].islower()), "a sentence in the middle of a line starts in lower case"


def test_lost_connection_after_an_answer_began(stand_in: Any, run_ctl: Any) -> None:
    def crash(conn: socket.socket, server: StandIn) -> None:
        buffer = bytearray()
        (request,) = server.read_requests(conn, buffer)
        send(conn, {"method": "chat.delta", "params": {"id": request["id"], "content": "нача"}})
        time.sleep(0.2)
        conn.close()

    stand_in(crash)
    r = run_ctl("chat", "привет")
    assert r.returncode == 3, r
    assert r.stdout == "нача\n", r
    line = one_line(r.stderr)
    assert "lost the connection to gigachatd" in line and "could not start" not in line, line


def test_a_request_queued_by_gigachatd(fake_api: FakeGigaChat, daemon: DaemonFactory, ctl_popen: Any, pty_ctl: Any) -> None:
    """A personal key runs one request at a time: the second waits, and says so on a terminal."""
    fake_api.configure(chunks=8, chunk_interval=0.25)
    daemon()
    first = ctl_popen("chat", "первый, долгий")
    assert fake_api.wait_for(lambda s: s.chat_in_flight == 1, 5)
    t = pty_ctl("--connect-timeout", "1", "chat", "второй", env={"NO_COLOR": "1"})
    t.expect("waiting: 1 request ahead")
    t.expect("Echo: второй")
    assert t.wait() == 0
    assert first.wait(10) == 0
    screen = t.raw.decode()
    assert "\r\x1b[K" in screen[screen.index("waiting"):screen.index("Echo: второй")], screen
