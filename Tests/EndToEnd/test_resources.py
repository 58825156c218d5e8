"""Client faults and resources: hostile lines, a 64 MiB line, clients that leave mid-stream or
read slowly, a thousand connections, and running out of file descriptors.

test_protocol.py already covers the basic bad lines (not JSON, cut off, batches, scalars, unknown method,
bad params) and the over-long line's error-then-close; this file adds what it does not: invalid UTF-8,
deep nesting, huge numbers, wrong types of every member, all with a bystander streaming meanwhile, and the
memory, file-descriptor and upstream-abort side of the client faults.

Measurements come from /proc/PID of the daemon: VmHWM (peak resident set) for memory, utime+stime for CPU,
the fd directory for descriptors.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import selectors
import socket
import struct
import termios
import time
from typing import Any, Optional

import pytest

from fake_gigachat import FakeGigaChat
from harness import Daemon, DaemonFactory, chat_params, wait_until

MiB = 1024 * 1024

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
LINE_TOO_LONG = -32008


# --------------------------------------------------------------------------------------------------
# /proc readings of the daemon


def proc_status_kib(pid: int, field: str) -> int:
    """A "kB" line of /proc/PID/status (VmHWM, VmRSS, ...), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no {field}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def unread_bytes(sock: socket.socket) -> int:
    """Bytes waiting in a socket's receive queue (SIOCINQ)."""
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


def status_of(d: Daemon) -> dict[str, Any]:
    with d.connect() as conn:
        _, final = conn.call("status")
    assert "result" in final, final
    return final["result"]


# --------------------------------------------------------------------------------------------------
# Hostile lines


def _user(content: str) -> str:
    return '"messages":[{"role":"user","content":"' + content + '"}]'


# (line, acceptable codes, acceptable ids). None of these may reach the API.
HOSTILE_LINES: list[tuple[bytes, set[int], tuple[Any, ...]]] = [
    # invalid UTF-8: outside strings, inside strings, truncated, overlong, an encoded surrogate
    (b"\xff\xfe\xfd", {PARSE_ERROR}, (None,)),
    (b'{"id":1,"method":"status","params":{"x":"\xff"}}', {PARSE_ERROR}, (None, 1)),
    (b'{"id":2,"method":"st\xe2\x82"}', {PARSE_ERROR}, (None, 2)),
    (b'{"id":3,"method":"\xc0\xaf"}', {PARSE_ERROR}, (None, 3)),
    (b'{"id":4,"method":"chat","params":{' + _user("\xed\xa0\x80").encode("latin-1") + b"}}", {PARSE_ERROR}, (None, 4)),
    # a lone surrogate escape, NUL bytes, a byte-order mark, garbage after the object
    (b'{"id":5,"method":"chat","params":{' + _user("\\ud800").encode() + b"}}", {PARSE_ERROR, INVALID_PARAMS}, (None, 5)),
    (b"\x00", {PARSE_ERROR}, (None,)),
    (b'{"id":6,"method":"status"}\x00', {PARSE_ERROR}, (None, 6)),
    (b'\xef\xbb\xbf{"id":7,"method":"status"}', {PARSE_ERROR}, (None, 7)),
    (b'{"id":8,"method":"status"} {"id":9,"method":"status"}', {PARSE_ERROR}, (None, 8)),
    # JSON that is not a request object
    (b"null", {INVALID_REQUEST}, (None,)),
    (b"true", {INVALID_REQUEST}, (None,)),
    (b'""', {INVALID_REQUEST}, (None,)),
    (b"[]", {INVALID_REQUEST}, (None,)),
    (b"{}", {INVALID_REQUEST}, (None,)),
    # deep nesting: far past any sane depth, at the top and inside params
    (b"[" * 100_000, {PARSE_ERROR, INVALID_REQUEST}, (None,)),
    (b'{"a":' * 100_000, {PARSE_ERROR, INVALID_REQUEST}, (None,)),
    (b'{"id":10,"method":"status","params":{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
     {PARSE_ERROR, INVALID_PARAMS}, (None, 10)),
    (b'{"id":11,"method":"chat","params":{"messages":' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
     {PARSE_ERROR, INVALID_PARAMS}, (None, 11)),
    # huge numbers: as ids and as params
    (b'{"id":99999999999999999999999,"method":"status"}', {PARSE_ERROR, INVALID_REQUEST}, (None,)),
    (b'{"id":9223372036854775808,"method":"status"}', {PARSE_ERROR, INVALID_REQUEST}, (None,)),
    (b'{"id":' + b"9" * 10_000 + b',"method":"status"}', {PARSE_ERROR, INVALID_REQUEST}, (None,)),
    (b'{"id":1e400,"method":"status"}', {PARSE_ERROR, INVALID_REQUEST}, (None,)),
    (b'{"id":-1e400,"method":"status"}', {PARSE_ERROR, INVALID_REQUEST}, (None,)),
    (b'{"id":1.5,"method":"status"}', {INVALID_REQUEST}, (None,)),
    (b'{"id":12,"method":"chat","params":{' + _user("x").encode() + b',"temperature":1e400}}',
     {PARSE_ERROR, INVALID_PARAMS}, (None, 12)),
    (b'{"id":13,"method":"chat","params":{' + _user("x").encode() + b',"max_tokens":99999999999999999999999}}',
     {PARSE_ERROR, INVALID_PARAMS}, (None, 13)),
    (b'{"id":14,"method":"chat","params":{' + _user("x").encode() + b',"n":-1e400}}',
     {PARSE_ERROR, INVALID_PARAMS}, (None, 14)),
    (b'{"id":15,"method":"status","params":{"x":1' + b"0" * 400 + b"}}", {PARSE_ERROR, INVALID_PARAMS}, (None, 15)),
    # wrong types of every member
    (b'{"id":true,"method":"status"}', {INVALID_REQUEST}, (None,)),
    (b'{"id":{},"method":"status"}', {INVALID_REQUEST}, (None,)),
    (b'{"id":[1],"method":"status"}', {INVALID_REQUEST}, (None,)),
    (b'{"id":16,"method":null}', {INVALID_REQUEST}, (16, None)),
    (b'{"id":17}', {INVALID_REQUEST}, (17, None)),
    (b'{"id":18,"method":"status","params":42}', {INVALID_PARAMS, INVALID_REQUEST}, (18,)),
    (b'{"id":19,"method":"chat","params":{"messages":[42]}}', {INVALID_PARAMS}, (19,)),
    (b'{"id":20,"method":"chat","params":{"messages":[{"role":5,"content":"x"}]}}', {INVALID_PARAMS}, (20,)),
    (b'{"id":21,"method":"chat","params":{"messages":[{"role":"user","content":5}]}}', {INVALID_PARAMS}, (21,)),
    (b'{"id":22,"method":"chat","params":{' + _user("x").encode() + b',"stream":"yes"}}', {INVALID_PARAMS}, (22,)),
    (b'{"id":23,"method":"chat","params":{' + _user("x").encode() + b',"temperature":"hot"}}', {INVALID_PARAMS}, (23,)),
    (b'{"id":24,"method":"chat","params":{' + _user("x").encode() + b',"max_tokens":1.5}}', {INVALID_PARAMS}, (24,)),
    (b'{"id":25,"method":"cancel","params":{"id":{}}}', {INVALID_PARAMS}, (25,)),
    (b'{"id":26,"method":"models.get","params":{"id":42}}', {INVALID_PARAMS}, (26,)),
    (b'{"id":27,"method":"embeddings","params":{"input":42}}', {INVALID_PARAMS}, (27,)),
    (b'{"id":28,"method":"tokens.count","params":{"input":[1,2]}}', {INVALID_PARAMS}, (28,)),
    # unknown methods, including near misses and a daemon-to-client method name
    (b'{"id":29,"method":""}', {METHOD_NOT_FOUND, INVALID_REQUEST}, (29,)),
    (b'{"id":30,"method":"STATUS"}', {METHOD_NOT_FOUND}, (30,)),
    (b'{"id":31,"method":"status "}', {METHOD_NOT_FOUND}, (31,)),
    (b'{"id":32,"method":"chat.delta","params":{"id":1,"content":"x"}}', {METHOD_NOT_FOUND}, (32,)),
    (b'{"id":33,"method":"rpc.discover"}', {METHOD_NOT_FOUND}, (33,)),
    (b'{"id":34,"method":"' + b"m" * 100_000 + b'"}', {METHOD_NOT_FOUND}, (34,)),
]


def test_hostile_lines_get_an_error_each_and_harm_nobody(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    """Each hostile line gets exactly one JSON-RPC error; after each one the same connection still answers
    status; a client streaming a chat at the same time gets every chunk; none of it reaches the API."""
    fake_api.configure(chunks=60, chunk_interval=0.05)  # the bystander's stream runs meanwhile (3 s)
    d = daemon()
    prompt = "посторонний " * 10
    bystander = d.connect(timeout=20)
    bystander.request("chat", chat_params(prompt), id="bystander")
    assert fake_api.wait_for(lambda st: st.chat_in_flight == 1, timeout=5)

    with d.connect() as conn:
        for n, (line, codes, ids) in enumerate(HOSTILE_LINES):
            conn.send_line(line)
            msg = conn.read_message(timeout=10)
            what = f"line {n} {line[:60]!r}"
            assert msg is not None, f"the daemon closed the connection after {what}"
            assert msg.get("jsonrpc") == "2.0" and "result" not in msg, f"{what}: {msg}"
            err = msg.get("error")
            assert isinstance(err, dict) and err.get("code") in codes, f"{what}: expected a code in {codes}, got {msg}"
            assert isinstance(err.get("message"), str) and err["message"] and "\n" not in err["message"], f"{what}: {msg}"
            assert any(msg.get("id") == i and type(msg.get("id")) is type(i) for i in ids), f"{what}: id not in {ids}: {msg}"
            # The same connection is still usable, and nothing else was queued behind the error.
            _, status = conn.call("status", id=f"after-{n}")
            assert "result" in status, f"after {what}: {status}"
            assert status["result"]["state"] == "running"
        assert conn.expect_silence(0.2) == [], "exactly one reply per line"

        out = bystander.collect("bystander", timeout=20)
        assert out.ok, out.final
        expected = fake_api.reply_chunks("Echo: " + prompt)
        assert len(expected) == 60
        assert [n["params"]["content"] for n in out.notifications if n["params"]["content"]] == expected
        assert out.content == out.delta_text == "Echo: " + prompt

        after = conn.chat("после всего этого", stream=True, id="last")
        assert after.ok, after.final
        assert after.content == after.delta_text == "Echo: после всего этого"

    assert [r.json["messages"][0]["content"] for r in fake_api.state.chat_requests] == [prompt, "после всего этого"], \
        "no hostile line may reach the API"
    assert d.running


# --------------------------------------------------------------------------------------------------
# A 64 MiB line


def test_a_64_mib_line_gets_one_error_and_costs_the_daemon_no_64_mib(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    cap = 1 * MiB
    d = daemon(env={"GIGACHATD_MAX_LINE_BYTES": str(cap)})
    with d.connect() as other:
        assert other.chat("прогрев", stream=False).ok  # token, TLS and allocator warmed up
        hwm_before = proc_status_kib(d.pid, "VmHWM")

        huge = d.connect(timeout=10)
        huge.send(b'{"jsonrpc":"2.0","id":1,"method":"chat","params":{"messages":[{"role":"user","content":"')
        piece = b"y" * (256 * 1024)
        total = 64 * MiB
        sent = 0
        huge.sock.settimeout(5)
        try:
            while sent < total:  # never a newline: the daemon must give up at the cap on its own
                huge.sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except socket.timeout:
            pytest.fail(f"the daemon stopped reading after {sent} bytes but neither answered nor closed")
        messages = huge.expect_eof(timeout=5)
        hwm_after = proc_status_kib(d.pid, "VmHWM")

        assert len(messages) == 1, f"expected one error line, then the close; got {messages}"
        err = messages[0]
        assert err.get("id") is None and err["error"]["code"] == LINE_TOO_LONG, err
        assert err["error"]["data"]["max_line_bytes"] == cap, err
        growth = (hwm_after - hwm_before) / 1024
        assert growth < 16, (
            f"the daemon's peak RSS grew by {growth:.1f} MiB while a client pushed {sent / MiB:.0f} MiB of one line "
            f"(cap {cap / MiB:.0f} MiB); it must not buffer past the cap"
        )
        # The other client never noticed.
        out = other.chat("соседу всё равно", stream=True)
        assert out.ok and out.content == "Echo: соседу всё равно", out.final
    assert d.running


# --------------------------------------------------------------------------------------------------
# A client that leaves mid-stream


@pytest.mark.parametrize("reading", [True, False], ids=["while-reading", "while-paused-by-backpressure"])
def test_client_leaving_mid_stream_aborts_the_upstream_within_a_second(
    fake_api: FakeGigaChat, daemon: DaemonFactory, reading: bool
) -> None:
    """No tokens billed for replies nobody reads: the fake API sees its connection closed < 1 s after the
    client closed its socket, whether the client was reading (paced stream) or had stopped reading long
    enough for the upstream transfer to be paused."""
    d = daemon(env={"GIGACHAT_TIMEOUT": "30"})
    with d.connect() as warm:
        assert warm.chat("прогрев", stream=False).ok
    leaver = d.connect(timeout=10)
    if reading:
        fake_api.configure(chunks=200, chunk_interval=0.05)  # a 10 s stream
        leaver.request("chat", chat_params("длинный ответ"), id=1)
        for _ in range(5):
            msg = leaver.read_message(timeout=10)
            assert msg is not None and msg.get("method") == "chat.delta", msg
    else:
        # 64 MiB paced at 16 KiB per 5 ms; the client reads nothing. Once the daemon's writes to it wait,
        # curl's buffer fills and the transfer is paused (CURL_WRITEFUNC_PAUSE). From outside: the bytes
        # queued on the client's socket stop growing while the API is still sending.
        leaver.request("chat", chat_params("много текста", model="bench:4096:16384:5"), id=1)
        # (Polled: the fake does not signal its condition variable for every event it sends.)
        assert wait_until(lambda: bool(fake_api.state.chat_requests) and fake_api.state.chat_requests[-1].events_sent > 0, 10)
        rec = fake_api.state.chat_requests[-1]
        last, still_since = unread_bytes(leaver.sock), time.monotonic()
        deadline = time.monotonic() + 10
        while not (last > 0 and time.monotonic() - still_since >= 0.5):
            assert time.monotonic() < deadline, f"the daemon kept writing to a client that reads nothing ({last} bytes queued)"
            time.sleep(0.05)
            queued = unread_bytes(leaver.sock)
            if queued != last:
                last, still_since = queued, time.monotonic()
        assert not rec.done and rec.events_sent < 4096, "the stream ended before the client left"
    assert fake_api.state.disconnects == []

    leaver.close()
    closed_at = time.monotonic()
    assert fake_api.wait_for(lambda st: len(st.disconnects) >= 1, timeout=5), \
        "the fake API never saw its connection closed after the client left"
    seen = fake_api.state.disconnects[0]
    assert seen["t"] - closed_at < 1.0, f"the upstream transfer was aborted {seen['t'] - closed_at:.2f}s after the client left"
    assert seen["route"] == "/chat/completions"
    assert fake_api.wait_for(lambda st: st.chat_in_flight == 0, timeout=2)

    # The leaver's connection and request wind down: nothing in flight or queued, only the asker connected.
    settled = lambda: (lambda s: (s["requests"]["in_flight"], s["requests"]["queued"], s["connections"]))(status_of(d))
    assert wait_until(lambda: settled() == (0, 0, 1), 3), status_of(d)
    out = d.chat("следующий")
    assert out.ok, out.final


# --------------------------------------------------------------------------------------------------
# A slow reader


def test_slow_reader_keeps_the_daemon_small_and_gets_every_byte_in_order(
    fake_api: FakeGigaChat, daemon: DaemonFactory
) -> None:
    """A 40 MiB stream (20,000 bench records of 2048 bytes) read slowly for a while, then fast.

    While the client reads slowly the daemon must hold back the upstream (CURL_WRITEFUNC_PAUSE) instead of
    buffering the unread part: its peak RSS grows by well under the stream's size. The whole reply must still
    arrive, each record once and in order. (The final result necessarily carries the whole text, so the peak
    at the very end is not bounded by less than the reply; what is bounded is the backlog.)
    About 15 s: 3 s of slow reading, then 40 MiB through the daemon.
    """
    n, size = 20000, 2048
    d = daemon(env={"GIGACHAT_TIMEOUT": "30"})
    with d.connect() as warm:
        assert warm.chat("прогрев", stream=False).ok
    hwm_before = proc_status_kib(d.pid, "VmHWM")

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(d.socket_path))
        request = {"jsonrpc": "2.0", "id": 1, "method": "chat", "params": chat_params("x", model=f"bench:{n}:{size}")}
        sock.sendall(json.dumps(request).encode() + b"\n")
        received = bytearray()

        # Slow: 4 KiB every 10 ms (about 400 KiB/s) for 3 s.
        sock.settimeout(5)
        slow_until = time.monotonic() + 3.0
        while time.monotonic() < slow_until:
            chunk = sock.recv(4096)
            assert chunk, "the daemon closed the connection during the slow phase"
            received += chunk
            time.sleep(0.01)
        rec = fake_api.state.chat_requests[-1]
        sent_during_slow = rec.events_sent
        hwm_slow = proc_status_kib(d.pid, "VmHWM")
        growth_slow = (hwm_slow - hwm_before) / 1024
        assert growth_slow < 24, (
            f"while the client had read {len(received) / MiB:.1f} MiB, the daemon's peak RSS grew by {growth_slow:.1f} MiB "
            f"(the API had sent {sent_during_slow * size / MiB:.1f} MiB): it buffers what the client has not read"
        )
        assert sent_during_slow < n, "the whole stream was pulled from the API for a client that had read a few MiB"

        # Fast: read everything. Bounded: 40 MiB through the daemon takes seconds, not minutes.
        budget = 30.0
        deadline = time.monotonic() + budget
        final: Optional[dict[str, Any]] = None
        contents: list[str] = []
        lines = 0
        finish_reason = None
        buf = received
        while final is None:
            nl = buf.find(b"\n")
            if nl < 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = sum(len(c) for c in contents)
                    pytest.fail(
                        f"the stream did not finish within {budget:.0f}s of fast reading: {got // size} of {n} records "
                        f"({got / MiB:.1f} of {n * size / MiB:.0f} MiB) arrived; the API had sent {rec.events_sent} events",
                        pytrace=False,
                    )
                sock.settimeout(min(remaining, 5))
                try:
                    chunk = sock.recv(1 << 20)
                except socket.timeout:
                    continue
                assert chunk, "the daemon closed the connection before the final response"
                buf += chunk
                continue
            line = bytes(buf[:nl])
            del buf[: nl + 1]
            lines += 1
            msg = json.loads(line)
            if msg.get("method") == "chat.delta":
                assert msg["params"]["id"] == 1
                assert finish_reason is None, "a delta after the one carrying finish_reason"
                contents.append(msg["params"]["content"])
                finish_reason = msg["params"].get("finish_reason")
            else:
                final = msg
        assert not buf, "nothing may follow the final response"
    finally:
        sock.close()

    assert "result" in final, str(final)[:500]
    assert finish_reason == "stop"
    text = "".join(contents)
    assert len(text) == n * size, f"{len(text)} bytes of text arrived, {n * size} were sent"
    stamps = []
    for i in range(n):
        record = text[i * size:(i + 1) * size]
        assert record[16:] == "." * (size - 16), f"record {i} is damaged: {record[:40]!r}"
        stamps.append(int(record[:16]))
    assert stamps == sorted(stamps), "records arrived out of order"
    assert final["result"]["choices"][0]["message"]["content"] == text, "the final result differs from the deltas"


# --------------------------------------------------------------------------------------------------
# Many connections, and no file descriptors left


def _raise_own_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        if hard < wanted:
            pytest.skip(f"this test needs {wanted} file descriptors; RLIMIT_NOFILE hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _ask_status_on_all(socks: list[socket.socket], timeout: float) -> tuple[dict[int, dict[str, Any]], set[int]]:
    """Send status on every socket and read each one's first line: ({index: message}, {indexes closed
    without an answer}). Sockets neither answered nor closed by the timeout are in neither."""
    closed: set[int] = set()
    for i, s in enumerate(socks):
        try:
            s.sendall(b'{"jsonrpc":"2.0","id":%d,"method":"status"}\n' % i)
        except (BrokenPipeError, ConnectionResetError):
            closed.add(i)
        s.setblocking(False)
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        if i not in closed:
            sel.register(s, selectors.EVENT_READ, i)
    answers: dict[int, dict[str, Any]] = {}
    bufs: dict[int, bytes] = {}
    deadline = time.monotonic() + timeout
    try:
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(0.5):
                i = key.data
                try:
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except (ConnectionResetError, BrokenPipeError):
                    data = b""
                if not data:
                    closed.add(i)
                    sel.unregister(key.fileobj)
                    continue
                bufs[i] = bufs.get(i, b"") + data
                if b"\n" in bufs[i]:
                    answers[i] = json.loads(bufs[i].split(b"\n", 1)[0])
                    sel.unregister(key.fileobj)
    finally:
        sel.close()
    return answers, closed


def test_a_thousand_simultaneous_connections_all_get_answers(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    count = 1000
    _raise_own_fd_limit(count + 200)
    d = daemon()
    soft, hard = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    with d.connect() as warm:
        assert warm.chat("прогрев", stream=False).ok  # token fetched, upstream connection open
    fds_before = open_fds(d.pid)
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(s)
            s.settimeout(None)  # a blocking connect waits for room in the listen backlog
            s.connect(str(d.socket_path))
        answers, closed = _ask_status_on_all(socks, timeout=30)
        assert not closed, f"{len(closed)} connections were closed without an answer"
        assert len(answers) == count, f"only {len(answers)} of {count} connections got an answer"
        for i, msg in answers.items():
            assert msg.get("id") == i and "result" in msg, msg
        assert max(m["result"]["connections"] for m in answers.values()) == count, \
            "all the connections were open at once"
    finally:
        for s in socks:
            s.close()
    # A few upstream connections may come and go; a thousand client sockets must not linger.
    assert wait_until(lambda: open_fds(d.pid) <= fds_before + 4, 5), \
        f"the daemon holds {open_fds(d.pid)} fds after every client left (it had {fds_before})"
    assert status_of(d)["connections"] == 1
    out = d.chat("после тысячи")
    assert out.ok, out.final


def test_running_out_of_file_descriptors_is_survived(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    """The daemon at RLIMIT_NOFILE 64 with 200 clients: those it cannot accept wait or are closed, it does
    not crash or spin on accept(), and once clients leave it serves everyone again."""
    # As `prlimit --nofile=64:64 gigachatd`: the limit is set right after exec, before the daemon has
    # done anything (wait=False returns as soon as the process runs), so a daemon that sizes itself by its
    # limit at start-up sees 64.
    d = daemon(wait=False)
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (64, 64))
    d.wait_ready()
    assert resource.prlimit(d.pid, resource.RLIMIT_NOFILE) == (64, 64)
    with d.connect() as warm:
        assert warm.chat("прогрев", stream=False).ok  # a token and an upstream connection already exist

    socks: list[socket.socket] = []
    try:
        for _ in range(200):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect(str(d.socket_path))
            except (BlockingIOError, ConnectionRefusedError, socket.timeout, OSError):
                s.close()  # refused: a clean outcome too
                continue
            socks.append(s)
        assert socks, "not a single connection was possible"
        answers, closed = _ask_status_on_all(socks, timeout=3)
        assert 10 <= len(answers) < len(socks), \
            f"{len(answers)} of {len(socks)} connections answered; the fd limit of 64 should allow some dozens"
        for i, msg in answers.items():
            assert "result" in msg, msg

        # At the limit, with clients still waiting in the listen backlog: no busy loop on accept().
        cpu_before = cpu_seconds(d.pid)
        time.sleep(2.0)
        cpu_used = cpu_seconds(d.pid) - cpu_before
        assert d.running, f"the daemon died at its fd limit{d.diagnostics()}"
        assert cpu_used < 0.5, (
            f"the daemon used {cpu_used:.2f}s of CPU in 2s while out of file descriptors: it spins on accept() "
            f"(EMFILE) instead of backing off"
        )

        # Those answered leave; every other client is then served or closed cleanly, none hangs.
        waiting = [s for i, s in enumerate(socks) if i not in answers and i not in closed]
        for i in answers:
            socks[i].close()
        outcome = _drain_waiting(waiting, timeout=15)
        assert outcome["hung"] == 0, f"{outcome['hung']} clients neither served nor closed: {outcome}"
        assert outcome["served"] + outcome["closed"] == len(waiting), outcome
    finally:
        for s in socks:
            s.close()

    assert d.running, d.diagnostics()
    assert wait_until(lambda: status_of(d)["connections"] == 1, 5), status_of(d)  # all the others are gone
    with d.connect() as conn:
        out = conn.chat("снова в строю")
        assert out.ok, out.final
    assert "accepting connections failed" not in d.stderr()


def _drain_waiting(socks: list[socket.socket], timeout: float) -> dict[str, int]:
    """Read each socket's answer (closing it at once, freeing the daemon's fd), or notice its close."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    served = closed = 0
    bufs: dict[Any, bytes] = {}
    deadline = time.monotonic() + timeout
    try:
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(0.5):
                s = key.fileobj
                try:
                    data = s.recv(65536)  # type: ignore[union-attr]
                except (ConnectionResetError, BrokenPipeError):
                    data = b""
                if not data:
                    closed += 1
                else:
                    bufs[s] = bufs.get(s, b"") + data
                    if b"\n" not in bufs[s]:
                        continue
                    msg = json.loads(bufs[s].split(b"\n", 1)[0])
                    assert "result" in msg, msg
                    served += 1
                sel.unregister(s)
                s.close()  # type: ignore[union-attr]
        hung = len(sel.get_map())
    finally:
        sel.close()
    return {"served": served, "closed": closed, "hung": hung}
