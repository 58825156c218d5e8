"""Hardening: every limit and refusal of the spec against the real daemon and the fake API.

| behaviour | test |
| Retry-After on a 429: delta-seconds (huge saturates), HTTP-date; garbage is absent | test_retry_after_variants |
| numeric settings out of range: exit 78 naming the key | test_out_of_range_setting_is_refused_at_start |
| settings at the edges of their ranges are accepted | test_settings_at_the_edges_of_their_ranges_are_accepted |
| an out-of-range value on SIGHUP: reload refused, old configuration kept, status says why | test_reload_with_an_out_of_range_value_is_refused |
| a reload's limits hold for the connections after it (and the error quotes them) | test_a_reload_applies_the_limits_to_the_connections_after_it |
| uploads of /proc, /dev, FIFOs, secrets, empty and over-512-MiB files: -32010, nothing read | test_dangerous_uploads_are_refused_without_reading |
| a 50 MB upload is streamed from the file, not held in memory | test_a_large_upload_is_streamed_not_loaded |
| control characters in mime, upload file name or session_id: -32602, nothing sent | test_control_characters_in_header_values_are_refused |
| ".", "..", "" as model or file ids: -32602, nothing sent | test_dot_ids_are_refused |
| a request line with 100k distinct keys is parsed in linear time | test_request_with_100k_keys_is_answered_quickly |
| GIGACHATD_MAX_LINE_BYTES defaults to 8 MiB | test_default_line_cap_is_8_mib |
| an API reply with 60k keys is parsed quickly, other clients unaffected | test_api_reply_with_60k_keys_is_answered_quickly |
| a client that stops reading: -32012 client_stall, upstream slot freed | test_client_stall_frees_the_upstream_slot |
| total deadline (deadline_ms, GIGACHATD_REQUEST_TIMEOUT): -32012 deadline, partial kept | test_total_deadline_ends_a_slow_stream |
| deadline_ms outside 1..86400000 or not an integer: -32602 | test_bad_deadline_ms_is_refused |
| GIGACHATD_MAX_REQUESTS_PER_CONNECTION: -32011 at once, nothing sent upstream | test_per_connection_request_cap |
| GIGACHATD_MAX_REQUESTS across connections: -32011 at once | test_daemon_wide_request_cap |
| GIGACHATD_MAX_PENDING_BYTES: a line over the pending budget gets -32011 | test_pending_bytes_cap |
| queued requests hold little more than their line | test_queued_requests_hold_little_memory |
| upstream slots shared round-robin between connections | test_a_lone_request_is_not_stuck_behind_another_connections_pipeline |
| a token that arrives already expired: used, warned once, no OAuth loop | test_already_expired_token_is_used_without_an_oauth_loop |
| an SSE event that never ends: -32005 malformed at 16 MiB, memory bounded | test_endless_sse_event_is_cut_off |
| cancel answers true only when the request ends with -32800 | test_cancel_answers_true_only_for_requests_it_cancels |
| an id is free again once its final line was written | test_id_is_reusable_as_soon_as_its_final_line_arrived |
| cancel while waiting for a token ends at once | test_cancel_while_waiting_for_a_token |
| control characters from outside never reach a log line or an API error message | test_outside_control_characters_do_not_forge_log_lines |
| a conversation that cannot be saved: -32010 conversation_save with the full reply | test_conversation_save_failure_keeps_the_reply |

Memory figures come from /proc/PID/status of the daemon: VmHWM (peak resident set) and VmRSS. Tests that
could make an unhardened daemon read without end (/proc pagemap) cap its data segment with RLIMIT_DATA
first, so a regression fails the test instead of eating the machine.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import math
import os
import resource
import signal
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from fake_gigachat import FakeGigaChat
from harness import Daemon, DaemonFactory, RpcConnection, TestEnv, chat_params, wait_until
from test_resources import proc_status_kib, status_of

MiB = 1024 * 1024

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
CANCELLED = -32800
RATE_LIMITED = -32002
UPSTREAM_ERROR = -32003
UPSTREAM_PROTOCOL = -32005
LOCAL_ERROR = -32010
TOO_MANY_REQUESTS = -32011
REQUEST_TIMEOUT = -32012

EX_CONFIG = 78


def api_requests(fake: FakeGigaChat) -> list[str]:
    """Routes of every request the fake saw except OAuth: what the daemon sent to the API proper."""
    return [f"{r.method} {r.route}" for r in list(fake.state.requests) if r.route != "oauth"]


def has_control_character(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def cap_data_segment(d: Daemon, limit: int = 1 << 30) -> None:
    """RLIMIT_DATA on the daemon: a runaway read fails the test, not the machine (the daemon's own data
    segment is about 50 MiB)."""
    resource.prlimit(d.pid, resource.RLIMIT_DATA, (limit, limit))


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    path.chmod(mode)
    return path


# --------------------------------------------------------------------------------------------------
# Retry-After


def _http_date(offset: float) -> str:
    return email.utils.formatdate(time.time() + offset, usegmt=True)  # IMF-fixdate


# (id, header value, what the daemon must do): "backoff" = treated as absent, ordinary retry;
# "too_long" = immediate -32002; "wait" = waited out, then retried; "now" = a past date is 0 s.
RETRY_AFTER_CASES: list[tuple[str, Callable[[], str], str]] = [
    ("huge", lambda: "99999999999999999999999", "too_long"),
    ("negative", lambda: "-5", "backoff"),
    ("inf", lambda: "inf", "backoff"),
    ("minus-inf", lambda: "-inf", "backoff"),
    ("nan", lambda: "nan", "backoff"),
    ("word", lambda: "abc", "backoff"),
    ("fraction", lambda: "1.5", "backoff"),
    ("empty", lambda: "", "backoff"),
    ("date-2s-ahead", lambda: _http_date(2), "wait"),
    ("date-in-the-past", lambda: _http_date(-3600), "now"),
]


@pytest.mark.parametrize("value,expect", [(v, e) for _, v, e in RETRY_AFTER_CASES], ids=[i for i, _, _ in RETRY_AFTER_CASES])
def test_retry_after_variants(fake_api: FakeGigaChat, daemon: DaemonFactory, value: Callable[[], str], expect: str) -> None:
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "2", "GIGACHAT_RETRY_BACKOFF_FACTOR": "0.05"})
    with d.connect() as conn:
        assert conn.chat("прогрев", stream=False).ok
        header = value()
        fake_api.inject("chat", "rate_limit", retry_after=header, times=1)
        started = time.monotonic()
        out = conn.chat("после 429", stream=False, timeout=8)
        elapsed = time.monotonic() - started
        attempts = len(fake_api.state.chat_requests) - 1
        what = f"Retry-After: {header!r}"
        if expect == "too_long":
            assert out.error["code"] == RATE_LIMITED, (what, out.final)
            retry_after = out.error["data"]["retry_after"]
            assert isinstance(retry_after, (int, float)) and not isinstance(retry_after, bool), (what, out.final)
            assert math.isfinite(retry_after) and retry_after > 30, (what, out.final)
            assert out.error["data"]["status"] == 429
            assert elapsed < 2 and attempts == 1, f"{what}: answered after {elapsed:.2f}s and {attempts} attempts"
        else:
            assert out.ok, (what, out.final)
            assert out.content == "Echo: после 429"
            assert attempts == 2, f"{what}: {attempts} attempts, expected the 429 and one retry"
            if expect == "wait":
                assert 0.8 <= elapsed < 4, f"{what}: retried after {elapsed:.2f}s, the date was 1-2 s ahead"
            else:
                assert elapsed < 1.2, f"{what}: the retry waited {elapsed:.2f}s; the value must count as absent (or 0)"
        _, status = conn.call("status")
        assert "result" in status, status
    assert d.running, d.diagnostics()


# --------------------------------------------------------------------------------------------------
# Configuration ranges

BAD_SETTINGS = [
    ("GIGACHATD_DRAIN_TIMEOUT", "1e16"),
    ("GIGACHATD_DRAIN_TIMEOUT", "-1"),
    ("GIGACHAT_TIMEOUT", "2e6"),
    ("GIGACHAT_TIMEOUT", "0"),
    ("GIGACHAT_TIMEOUT", "nan"),
    ("GIGACHAT_TIMEOUT", "inf"),
    ("GIGACHATD_MAX_RETRY_AFTER", "1e300"),
    ("GIGACHATD_REQUEST_TIMEOUT", "0"),
    ("GIGACHATD_REQUEST_TIMEOUT", "86401"),
    ("GIGACHATD_CLIENT_STALL_TIMEOUT", "0"),
    ("GIGACHATD_CLIENT_STALL_TIMEOUT", "3601"),
    ("GIGACHAT_MAX_CONNECTIONS", "0"),
    ("GIGACHAT_MAX_CONNECTIONS", "101"),
    ("GIGACHAT_MAX_RETRIES", "11"),
    ("GIGACHAT_RETRY_BACKOFF_FACTOR", "61"),
    ("GIGACHAT_RETRY_BACKOFF_FACTOR", "-0.5"),
    ("GIGACHAT_TOKEN_EXPIRY_BUFFER_MS", "3600001"),
    ("GIGACHATD_MAX_LINE_BYTES", "1023"),
    ("GIGACHATD_MAX_LINE_BYTES", "1073741825"),
    ("GIGACHATD_MAX_REQUESTS_PER_CONNECTION", "0"),
    ("GIGACHATD_MAX_REQUESTS_PER_CONNECTION", "100001"),
    ("GIGACHATD_MAX_REQUESTS", "0"),
    ("GIGACHATD_MAX_REQUESTS", "1000001"),
    ("GIGACHATD_MAX_PENDING_BYTES", "1048575"),
    ("GIGACHATD_MAX_PENDING_BYTES", "17179869185"),
]


def _serves(d: Daemon) -> bool:
    """True if the daemon answers status right now (it started with the bad value)."""
    try:
        with RpcConnection(d.socket_path, timeout=2) as conn:
            return "result" in conn.call("status", timeout=2)[1]
    except (OSError, TimeoutError, AssertionError):
        return False


@pytest.mark.parametrize("key,value", BAD_SETTINGS, ids=[f"{k}={v}" for k, v in BAD_SETTINGS])
def test_out_of_range_setting_is_refused_at_start(fake_api: FakeGigaChat, daemon: DaemonFactory, key: str, value: str) -> None:
    d = daemon(env={key: value}, wait=False)
    deadline = time.monotonic() + 10
    while d.proc is not None and d.proc.poll() is None:
        assert not _serves(d), f"gigachatd started and serves with {key}={value}"
        assert time.monotonic() < deadline, f"gigachatd neither exited nor served with {key}={value}"
        time.sleep(0.05)
    assert d.proc is not None and d.proc.returncode == EX_CONFIG, d.diagnostics()
    assert key in d.stderr(), d.diagnostics()
    assert not api_requests(fake_api) and not fake_api.state.oauth_calls, "refused before doing anything"


EDGE_SETTINGS = {
    "GIGACHAT_TIMEOUT": "3600",
    "GIGACHAT_MAX_CONNECTIONS": "100",
    "GIGACHAT_MAX_RETRIES": "10",
    "GIGACHAT_RETRY_BACKOFF_FACTOR": "0",
    "GIGACHAT_TOKEN_EXPIRY_BUFFER_MS": "0",
    "GIGACHATD_MAX_LINE_BYTES": "1073741824",
    "GIGACHATD_DRAIN_TIMEOUT": "0",
    "GIGACHATD_MAX_RETRY_AFTER": "3600",
    "GIGACHATD_CLIENT_STALL_TIMEOUT": "1",
    "GIGACHATD_REQUEST_TIMEOUT": "86400",
    "GIGACHATD_MAX_REQUESTS_PER_CONNECTION": "100000",
    "GIGACHATD_MAX_REQUESTS": "1000000",
    "GIGACHATD_MAX_PENDING_BYTES": "17179869184",
}


def test_settings_at_the_edges_of_their_ranges_are_accepted(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(env=EDGE_SETTINGS)
    assert d.chat("на краю").ok
    d.stop()
    d = daemon(env={"GIGACHAT_TIMEOUT": "0.001", "GIGACHATD_MAX_LINE_BYTES": "1024", "GIGACHATD_MAX_PENDING_BYTES": "1048576",
                    "GIGACHATD_MAX_REQUESTS": "1", "GIGACHATD_MAX_REQUESTS_PER_CONNECTION": "1",
                    "GIGACHAT_MAX_CONNECTIONS": "1", "GIGACHAT_MAX_RETRIES": "0", "GIGACHATD_REQUEST_TIMEOUT": "1"})
    with d.connect() as conn:
        assert "result" in conn.call("status")[1]


def test_reload_with_an_out_of_range_value_is_refused(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    conf = write_private(testenv.root / "gigachatd.conf", "GIGACHAT_MODEL=GigaChat-2\n")
    d = daemon(args=["--config", str(conf)])
    conn = d.connect()
    assert conn.chat("до").ok
    assert fake_api.state.chat_requests[-1].json["model"] == "GigaChat-2"

    write_private(conf, "GIGACHAT_MODEL=GigaChat-2-Pro\nGIGACHATD_MAX_RETRY_AFTER=1e300\n")
    d.signal(signal.SIGHUP)
    shows_error = lambda: "GIGACHATD_MAX_RETRY_AFTER" in json.dumps(conn.call("status")[1]["result"], ensure_ascii=False)
    assert wait_until(shows_error, 5), f"status never named the refused setting: {conn.call('status')[1]}{d.diagnostics()}"
    assert conn.call("status")[1]["result"]["state"] == "running"
    assert "GIGACHATD_MAX_RETRY_AFTER" in d.stderr()
    # Still serving, on old and new connections, with the whole previous configuration (not half of the new).
    assert conn.chat("после").ok
    assert fake_api.state.chat_requests[-1].json["model"] == "GigaChat-2"
    assert d.chat("новое соединение").ok
    assert d.running

    write_private(conf, "GIGACHAT_MODEL=GigaChat-2-Pro\n")
    d.signal(signal.SIGHUP)
    assert wait_until(lambda: not shows_error(), 5), conn.call("status")[1]
    assert conn.chat("исправлено").ok
    assert fake_api.state.chat_requests[-1].json["model"] == "GigaChat-2-Pro"


def test_a_reload_applies_the_limits_to_the_connections_after_it(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    """The limits are read as each connection and request starts, so the one a reload brings is the one
    enforced and the one the error quotes; a connection opened before keeps what it started with."""
    conf = write_private(testenv.root / "gigachatd.conf", "GIGACHATD_MAX_LINE_BYTES=8192\n")
    d = daemon(args=["--config", str(conf)])
    before = d.connect()
    assert before.call("status")[1]["result"]["state"] == "running"
    write_private(conf, "GIGACHATD_MAX_LINE_BYTES=4096\n")
    d.signal(signal.SIGHUP)
    assert wait_until(lambda: d.stderr().count("configuration reloaded") == 1, 5), d.diagnostics()
    with d.connect(timeout=10) as conn:
        messages = _send_status_line(conn, 6000)
        assert messages and messages[0]["error"]["code"] == -32008, str(messages)[:300]
        assert messages[0]["error"]["data"]["max_line_bytes"] == 4096
    with d.connect(timeout=10) as conn:
        messages = _send_status_line(conn, 3000)
        assert messages and "result" in messages[0], str(messages)[:300]
    messages = _send_status_line(before, 6000)
    assert messages and "result" in messages[0], "the connection from before the reload keeps its limit"


# --------------------------------------------------------------------------------------------------
# Uploads


class UploadSetup:
    """A daemon with a config file, a $CREDENTIALS_DIRECTORY and a credentials source file, so each of
    them can be offered for upload."""

    def __init__(self, daemon: DaemonFactory, testenv: TestEnv, fake: FakeGigaChat, tmp: Path) -> None:
        self.tmp = tmp
        self.config = write_private(testenv.root / "gigachatd.conf", "GIGACHAT_MODEL=GigaChat\n")
        self.credentials_dir = testenv.root / "credentials"
        self.credentials_dir.mkdir(mode=0o700)
        self.credential = write_private(self.credentials_dir / "gigachat-credentials", fake.settings.key + "\n", 0o400)
        self.other_credential = write_private(self.credentials_dir / "notes.txt", "harmless looking\n", 0o400)
        self.credentials_source = write_private(testenv.config / "gigachat" / "credentials", fake.settings.key + "\n")
        self.daemon = daemon(env={"CREDENTIALS_DIRECTORY": str(self.credentials_dir)}, args=["--config", str(self.config)])
        cap_data_segment(self.daemon)

    def upload(self, conn: RpcConnection, path: str, timeout: float = 10, **params: Any) -> tuple[dict[str, Any], float]:
        started = time.monotonic()
        _, final = conn.call("files.upload", {"path": path, **params}, timeout=timeout)
        return final, time.monotonic() - started


def _fifo(s: UploadSetup) -> str:
    path = s.tmp / "fifo"
    os.mkfifo(path, 0o600)
    return str(path)


def _empty(s: UploadSetup) -> str:
    path = s.tmp / "empty.txt"
    path.write_bytes(b"")
    return str(path)


def _sparse(s: UploadSetup) -> str:
    path = s.tmp / "sparse.bin"
    with open(path, "wb") as f:
        os.truncate(f.fileno(), 513 * MiB)
    return str(path)


def _symlink_to_proc(s: UploadSetup) -> str:
    path = s.tmp / "innocent.txt"
    path.symlink_to("/proc/self/environ")
    return str(path)


def _directory(s: UploadSetup) -> str:
    path = s.tmp / "adir"
    path.mkdir()
    return str(path)


REFUSED_UPLOADS: list[tuple[str, Callable[[UploadSetup], str]]] = [
    ("proc-self-environ", lambda s: "/proc/self/environ"),
    ("proc-pid-pagemap", lambda s: f"/proc/{os.getpid()}/pagemap"),
    ("symlink-to-proc", _symlink_to_proc),
    ("sys-file", lambda s: "/sys/kernel/mm/transparent_hugepage/enabled" if os.path.exists("/sys/kernel/mm/transparent_hugepage/enabled") else "/sys/power/state"),
    ("fifo", _fifo),
    ("dev-zero", lambda s: "/dev/zero"),
    ("directory", _directory),
    ("credentials-directory-key", lambda s: str(s.credential)),
    ("credentials-directory-other", lambda s: str(s.other_credential)),
    ("credentials-source-file", lambda s: str(s.credentials_source)),
    ("own-config-file", lambda s: str(s.config)),
    ("empty-file", _empty),
    ("sparse-513-mib", _sparse),
]


@pytest.mark.parametrize("make_path", [m for _, m in REFUSED_UPLOADS], ids=[i for i, _ in REFUSED_UPLOADS])
def test_dangerous_uploads_are_refused_without_reading(
    fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv, tmp_path: Path, make_path: Callable[[UploadSetup], str]
) -> None:
    setup = UploadSetup(daemon, testenv, fake_api, tmp_path)
    d = setup.daemon
    normal = tmp_path / "normal.txt"
    normal.write_text("обычный файл\n")
    with d.connect() as conn:
        # Warm up the upload path (token, TLS, allocator) so what follows measures only the refusal.
        final, _ = setup.upload(conn, str(normal))
        assert "result" in final, final
        assert conn.chat("прогрев", stream=False).ok
        uploads_before = len(fake_api.state.requests_to("/files"))
        hwm_before = proc_status_kib(d.pid, "VmHWM")

        path = make_path(setup)
        final, elapsed = setup.upload(conn, path)
        assert "error" in final, f"{path} was uploaded: {final}"
        assert final["error"]["code"] == LOCAL_ERROR, final
        assert final["error"]["message"] and not has_control_character(final["error"]["message"]), final
        assert elapsed < 2, f"refusing {path} took {elapsed:.2f}s"
        assert len(fake_api.state.requests_to("/files")) == uploads_before, f"{path} reached the API"
        growth = (proc_status_kib(d.pid, "VmHWM") - hwm_before) / 1024
        assert growth < 8, f"the daemon's peak RSS grew by {growth:.1f} MiB refusing {path}: it read it"

        out = conn.chat("после отказа", stream=False)
        assert out.ok, out.final
    assert d.running, d.diagnostics()


def test_a_large_upload_is_streamed_not_loaded(fake_api: FakeGigaChat, daemon: DaemonFactory, tmp_path: Path) -> None:
    size = 50 * 1000 * 1000
    big = tmp_path / "big.bin"
    block = hashlib.sha256(b"gigachatd").digest() * 2048  # 64 KiB, not all zeros
    with open(big, "wb") as f:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            f.write(piece)
            left -= len(piece)
    d = daemon(env={"GIGACHAT_TIMEOUT": "30"})
    cap_data_segment(d)
    small = tmp_path / "small.txt"
    small.write_text("прогрев\n")
    with d.connect(timeout=30) as conn:
        assert "result" in conn.call("files.upload", {"path": str(small)})[1]
        hwm_before = proc_status_kib(d.pid, "VmHWM")
        _, final = conn.call("files.upload", {"path": str(big)}, timeout=30)
        hwm_after = proc_status_kib(d.pid, "VmHWM")
    assert "result" in final, final
    assert final["result"]["bytes"] == size and final["result"]["filename"] == "big.bin"
    stored = fake_api.state.files[final["result"]["id"]]["data"]
    assert hashlib.sha256(stored).digest() == hashlib.sha256(big.read_bytes()).digest(), "the upload arrived intact"
    growth = (hwm_after - hwm_before) / 1024
    assert growth < 16, f"uploading a {size / MiB:.0f} MiB file grew the daemon's peak RSS by {growth:.1f} MiB: it loaded the file"


def test_control_characters_in_header_values_are_refused(fake_api: FakeGigaChat, daemon: DaemonFactory, tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("x\n")
    evil = tmp_path / "evil\nname.txt"
    evil.write_text("x\n")
    carriage = tmp_path / "evil\rname.txt"
    carriage.write_text("x\n")
    d = daemon()
    with d.connect() as conn:
        assert conn.chat("прогрев", stream=False).ok
        before = api_requests(fake_api)
        cases: list[tuple[str, dict[str, Any]]] = [
            ("files.upload", {"path": str(good), "mime": "text/plain\r\nX-Injected: yes"}),
            ("files.upload", {"path": str(good), "mime": "text/plain\nX-Injected: yes"}),
            ("files.upload", {"path": str(good), "mime": "text/plain\x00"}),
            ("files.upload", {"path": str(good), "mime": "text/\x1bplain"}),
            ("files.upload", {"path": str(evil)}),
            ("files.upload", {"path": str(carriage)}),
            ("chat", chat_params("x", stream=False, session_id="abc\r\nX-Injected: yes")),
            ("chat", chat_params("x", stream=False, session_id="abc\n")),
            ("chat", chat_params("x", stream=False, session_id="a\x00b")),
            ("chat", chat_params("x", stream=False, session_id="a\x01b")),
        ]
        for method, params in cases:
            _, final = conn.call(method, params)
            assert "error" in final and final["error"]["code"] == INVALID_PARAMS, (method, params, final)
        assert api_requests(fake_api) == before, "none of them may reach the API"
        # The same values without the control characters are fine.
        assert "result" in conn.call("files.upload", {"path": str(good), "mime": "text/plain"})[1]
        assert conn.chat("x", stream=False, session_id="abc").ok


@pytest.mark.parametrize("method", ["models.get", "files.get", "files.delete"])
def test_dot_ids_are_refused(fake_api: FakeGigaChat, daemon: DaemonFactory, method: str) -> None:
    d = daemon()
    with d.connect() as conn:
        assert conn.chat("прогрев", stream=False).ok
        before = api_requests(fake_api)
        for bad in (".", "..", ""):
            _, final = conn.call(method, {"id": bad})
            assert "error" in final and final["error"]["code"] == INVALID_PARAMS, (method, bad, final)
        assert api_requests(fake_api) == before, f"{method} sent a dot id to the API: {api_requests(fake_api)[len(before):]}"
        # Ids that merely contain dots are real ids.
        _, final = conn.call(method, {"id": "GigaChat-2.0" if method == "models.get" else "a.b"})
        assert len(api_requests(fake_api)) == len(before) + 1, final


# --------------------------------------------------------------------------------------------------
# JSON size and shape


def test_request_with_100k_keys_is_answered_quickly(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    params = {f"key{i}": i for i in range(100_000)}
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "status", "params": params}, separators=(",", ":")).encode()
    assert 1_000_000 <= len(line) < 2_000_000
    with d.connect() as conn:
        assert "result" in conn.call("status")[1]
        started = time.monotonic()
        conn.send_line(line)
        final = conn.collect(1, timeout=2).final  # raises if the answer takes longer
        elapsed = time.monotonic() - started
        assert final.get("id") == 1, final
        assert elapsed < 2, f"a 1 MB line with 100k keys took {elapsed:.2f}s"
        assert "result" in conn.call("status", timeout=2)[1]


def _send_status_line(conn: RpcConnection, pad_bytes: int) -> list[dict[str, Any]]:
    """Send one status line of about ``pad_bytes`` and read what comes back before the answer or close."""
    try:
        conn.send(b'{"id":1,"method":"status","params":{"pad":"' + b"x" * pad_bytes + b'"}}\n')
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed at the cap while we were still sending: the error line is waiting
    first = conn.read_message(timeout=15)
    return [first] if first is not None else []


def test_default_line_cap_is_8_mib(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect(timeout=15) as conn:
        messages = _send_status_line(conn, 7 * MiB)
        assert messages and messages[0].get("id") == 1 and "result" in messages[0], f"a 7 MiB line: {str(messages)[:300]}"
    with d.connect(timeout=15) as conn:
        messages = _send_status_line(conn, 9 * MiB)
        assert messages and messages[0]["error"]["code"] == -32008, str(messages)[:300]
        assert messages[0]["error"]["data"]["max_line_bytes"] == 8 * MiB
        assert conn.expect_eof(timeout=5) == []


def test_api_reply_with_60k_keys_is_answered_quickly(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(env={"GIGACHAT_MAX_CONNECTIONS": "2"})
    assert d.chat("прогрев", stream=False).ok
    huge = {"object": "list", "data": [], **{f"k{i}": i for i in range(60_000)}}
    fake_api.inject("/models", "status", status=200, body=huge)
    with d.connect() as a, d.connect() as b:
        started = time.monotonic()
        rid = a.request("models")
        cid = b.request("chat", chat_params("сосед"))
        final = a.collect(rid, timeout=2).final
        elapsed = time.monotonic() - started
        chat = b.collect(cid, timeout=3)
        chat_elapsed = time.monotonic() - started
    assert "result" in final, str(final)[:300]
    assert len(final["result"]) == len(huge) and final["result"]["k59999"] == 59999
    assert elapsed < 2, f"a 60k-key reply took {elapsed:.2f}s"
    assert chat.ok and chat.content == "Echo: сосед", chat.final
    assert chat_elapsed < 3


# --------------------------------------------------------------------------------------------------
# Stalls and deadlines


def test_client_stall_frees_the_upstream_slot(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    """Personal scope (one upstream slot): A asks for a 4 MiB stream and reads nothing. After
    GIGACHATD_CLIENT_STALL_TIMEOUT (2 s) the daemon ends A's request and aborts its transfer, so B is served."""
    d = daemon(env={"GIGACHATD_CLIENT_STALL_TIMEOUT": "2", "GIGACHAT_TIMEOUT": "30"})
    assert d.chat("прогрев", stream=False).ok
    # 4 MiB in 16 KiB events, paced over ~8 s: the fake is still sending (and notices a hang-up at once)
    # when the stall timeout fires, however much the kernel buffers between the two.
    fake_api.inject("chat", "none", reply_chunks=["x" * 16384] * 256, interval=0.03)
    a = d.connect(timeout=15)
    a.request("chat", chat_params("много"), id="a")
    assert fake_api.wait_for(lambda st: len(st.chat_requests) == 2 and st.chat_in_flight == 1, timeout=5)

    started = time.monotonic()
    with d.connect(timeout=10) as b:
        out = b.chat("мне тоже", timeout=8)
    elapsed = time.monotonic() - started
    assert out.ok and out.content == "Echo: мне тоже", out.final
    assert elapsed < 5, f"B waited {elapsed:.1f}s behind a client that reads nothing"
    assert fake_api.wait_for(lambda st: any(x["route"] == "/chat/completions" for x in st.disconnects), timeout=2), \
        "A's upstream transfer was not aborted"
    assert fake_api.state.chat_requests[1].events_sent < 256, "A's stream was pulled to the end anyway"

    stalled = a.collect("a", timeout=10)
    assert stalled.notifications and all(n.get("method") == "chat.delta" for n in stalled.notifications)
    assert stalled.error["code"] == REQUEST_TIMEOUT, stalled.final
    assert stalled.error["data"]["reason"] == "client_stall", stalled.final
    a.close()
    assert d.running


@pytest.mark.parametrize("how", ["deadline_ms", "GIGACHATD_REQUEST_TIMEOUT"])
def test_total_deadline_ends_a_slow_stream(fake_api: FakeGigaChat, daemon: DaemonFactory, how: str) -> None:
    env = {"GIGACHATD_REQUEST_TIMEOUT": "1"} if how == "GIGACHATD_REQUEST_TIMEOUT" else {}
    params = {"deadline_ms": 1000} if how == "deadline_ms" else {}
    d = daemon(env=env)
    with d.connect() as conn:
        assert conn.chat("прогрев", stream=False).ok
        # 50 pieces, one every 0.2 s: a 10 s drip that never stalls long enough for GIGACHAT_TIMEOUT.
        fake_api.inject("chat", "none", interval=0.2, reply_chunks=[f"{i} " for i in range(50)])
        started = time.monotonic()
        out = conn.chat("капает", timeout=6, **params)
        elapsed = time.monotonic() - started
        assert out.error["code"] == REQUEST_TIMEOUT, out.final
        assert out.error["data"]["reason"] == "deadline", out.final
        assert out.error["data"]["partial"] is True, out.final
        assert out.delta_text and out.error["data"]["result"]["choices"][0]["message"]["content"] == out.delta_text
        assert 0.9 <= elapsed < 2.5, f"a 1 s deadline fired after {elapsed:.2f}s"
        assert fake_api.wait_for(lambda st: len(st.disconnects) >= 1, timeout=1), "the upstream transfer was not aborted"

        started = time.monotonic()
        after = conn.chat("следующий", stream=False)
        assert after.ok, after.final
        assert time.monotonic() - started < 1, "the slot was not freed at once"


@pytest.mark.parametrize("value", [0, -1, 1.5, "1000", 86_400_001, True])
def test_bad_deadline_ms_is_refused(fake_api: FakeGigaChat, daemon: DaemonFactory, value: Any) -> None:
    d = daemon()
    with d.connect() as conn:
        assert conn.chat("прогрев", stream=False).ok
        out = conn.chat("x", stream=False, deadline_ms=value)
        assert out.error["code"] == INVALID_PARAMS, out.final
        assert "deadline_ms" in out.error["message"], out.final
        assert len(fake_api.state.chat_requests) == 1
        assert conn.chat("x", stream=False, deadline_ms=86_400_000).ok


# --------------------------------------------------------------------------------------------------
# Caps and fairness


def _read_finals(conn: RpcConnection, count: int, timeout: float) -> list[tuple[float, dict[str, Any]]]:
    """The next ``count`` final responses on ``conn`` (notifications skipped), with arrival times."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        msg = conn.read_message(max(0.01, deadline - time.monotonic()))
        assert msg is not None, f"the connection closed after {len(out)} of {count} answers"
        if "id" in msg and "method" not in msg:
            out.append((time.monotonic(), msg))
    return out


def test_per_connection_request_cap(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(env={"GIGACHATD_MAX_REQUESTS_PER_CONNECTION": "4"})
    assert d.chat("прогрев", stream=False).ok
    fake_api.configure(first_byte_delay=0.3)
    with d.connect() as conn:
        started = time.monotonic()
        conn.send(b"".join(
            json.dumps({"jsonrpc": "2.0", "id": i, "method": "chat", "params": chat_params(f"#{i}", stream=False)}).encode() + b"\n"
            for i in range(10)
        ))
        finals = _read_finals(conn, 10, timeout=10)
        refused = [(t, m) for t, m in finals if "error" in m]
        served = [(t, m) for t, m in finals if "result" in m]
        assert len(refused) == 6 and len(served) == 4, [m for _, m in finals]
        assert {m["id"] for _, m in refused} == set(range(4, 10))
        for _, m in refused:
            assert m["error"]["code"] == TOO_MANY_REQUESTS, m
            assert m["error"]["data"]["setting"] == "GIGACHATD_MAX_REQUESTS_PER_CONNECTION", m
            assert m["error"]["data"]["limit"] == 4, m
        assert max(t for t, _ in refused) - started < 0.5, "the refusals must come at once"
        assert max(t for t, _ in refused) < min(t for t, _ in served), "refused before any of the others finished"
        assert len(fake_api.state.chat_requests) == 1 + 4, "the refused ones never reached the API"
        fake_api.configure(first_byte_delay=0)
        assert conn.chat("снова можно", stream=False).ok


def test_daemon_wide_request_cap(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(env={"GIGACHATD_MAX_REQUESTS": "3"})
    assert d.chat("прогрев", stream=False).ok
    fake_api.configure(first_byte_delay=0.3)
    conns = [d.connect() for _ in range(5)]
    try:
        started = time.monotonic()
        for i, c in enumerate(conns):
            c.request("chat", chat_params(f"#{i}", stream=False), id=i)
        finals = [(i, c.collect(i, timeout=10)) for i, c in enumerate(conns)]
    finally:
        for c in conns:
            c.close()
    refused = [o for _, o in finals if "error" in o.final]
    served = [o for _, o in finals if o.ok]
    assert len(refused) == 2 and len(served) == 3, [o.final for _, o in finals]
    for o in refused:
        assert o.error["code"] == TOO_MANY_REQUESTS, o.final
        assert o.error["data"]["setting"] == "GIGACHATD_MAX_REQUESTS" and o.error["data"]["limit"] == 3, o.final
        assert o.elapsed < 0.5, f"a refusal took {o.elapsed:.2f}s"
    assert len(fake_api.state.chat_requests) == 1 + 3
    fake_api.configure(first_byte_delay=0)
    assert d.chat("снова можно", stream=False).ok
    assert time.monotonic() - started < 10


def test_pending_bytes_cap(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    """GIGACHATD_MAX_PENDING_BYTES at its minimum (1 MiB): while a 0.6 MiB request waits, a second one of
    0.6 MiB would go over the budget and is refused at once; small requests still fit."""
    d = daemon(env={"GIGACHATD_MAX_PENDING_BYTES": str(MiB), "GIGACHAT_TIMEOUT": "30"})
    assert d.chat("прогрев", stream=False).ok
    fake_api.configure(first_byte_delay=1.0)
    filler = "я" * (300 * 1024)  # 600 KiB of UTF-8
    with d.connect() as a, d.connect() as b:
        a.request("chat", chat_params(filler, stream=False), id="big1")
        assert fake_api.wait_for(lambda st: len(st.chat_requests) == 2, timeout=5)
        started = time.monotonic()
        out = b.chat(filler, stream=False, id="big2", timeout=5)
        assert out.error["code"] == TOO_MANY_REQUESTS, str(out.final)[:300]
        assert out.error["data"]["setting"] == "GIGACHATD_MAX_PENDING_BYTES", out.final
        assert time.monotonic() - started < 0.5
        assert "result" in b.call("status")[1], "small requests still fit in the budget"
        assert a.collect("big1", timeout=5).ok
    assert len(fake_api.state.chat_requests) == 2


def _queued(d: Daemon) -> int:
    return status_of(d)["requests"]["queued"]


def test_queued_requests_hold_little_memory(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    """Ten chats of ~3.5 MiB each (many small messages: the worst case for a parsed tree) wait behind a
    stalled one; the daemon's resident set grows by less than 3x the bytes it was sent."""
    d = daemon(env={"GIGACHAT_TIMEOUT": "60"})
    assert d.chat("прогрев", stream=False).ok
    fake_api.inject("chat", "stall", seconds=30)  # holds the one upstream slot without a byte
    holder = d.connect(timeout=30)
    holder.request("chat", chat_params("держу", stream=False), id="holder")
    assert fake_api.wait_for(lambda st: st.chat_in_flight == 1, timeout=5)

    message = {"role": "user", "content": "x" * 24}
    # 3.5 MiB lines: the ratio is what matters, and a debug build parses small messages at ~11 MiB/s.
    count = (7 * MiB // 2) // (len(json.dumps(message)) + 2)  # each element and its ", "
    line = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "chat", "params": {"messages": [message] * count}}).encode() + b"\n"
    assert 3.2 * MiB < len(line) < 3.8 * MiB
    rss_before = proc_status_kib(d.pid, "VmRSS")
    sent = 0
    with d.connect(timeout=30) as conn:
        for i in range(10):
            data = line.replace(b'"id": 0', b'"id": %d' % (i + 1), 1)
            conn.send(data)
            sent += len(data)
        assert wait_until(lambda: _queued(d) >= 10, 40), status_of(d)
        growth = (proc_status_kib(d.pid, "VmRSS") - rss_before) * 1024
        assert growth < 3 * sent, f"10 queued chats ({sent / MiB:.0f} MiB of lines) grew the daemon's RSS by {growth / MiB:.0f} MiB"
    holder.close()
    assert wait_until(lambda: status_of(d)["requests"]["queued"] == 0, 5)
    assert len(fake_api.state.chat_requests) == 2, "the queued chats were cancelled with their connection"


def test_a_lone_request_is_not_stuck_behind_another_connections_pipeline(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    assert d.chat("прогрев", stream=False).ok
    fake_api.configure(first_byte_delay=0.2)
    a = d.connect(timeout=20)
    a.send(b"".join(
        json.dumps({"jsonrpc": "2.0", "id": i, "method": "chat", "params": chat_params(f"A{i}", stream=False)}).encode() + b"\n"
        for i in range(20)
    ))
    assert fake_api.wait_for(lambda st: len(st.chat_requests) >= 2 and st.chat_in_flight == 1, timeout=5)
    a_started = len(fake_api.state.chat_requests) - 1  # A's requests that went upstream before B was sent
    started = time.monotonic()
    with d.connect(timeout=10) as b:
        out = b.chat("B", stream=False)
    elapsed = time.monotonic() - started
    assert out.ok, out.final
    prompts = [r.json["messages"][-1]["content"] for r in fake_api.state.chat_requests[1:]]
    a_before_b = prompts.index("B")
    assert a_before_b <= a_started + 2, (
        f"B went upstream after {a_before_b} of A's requests ({a_started} had started when B was sent): "
        f"upstream slots are not shared between connections; order {prompts}"
    )
    assert elapsed < 1.5, f"B waited {elapsed:.2f}s"
    a.close()


# --------------------------------------------------------------------------------------------------
# Tokens


def test_already_expired_token_is_used_without_an_oauth_loop(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.configure(expiry_offset=-3600)  # every token says it expired an hour ago; the fake accepts it
    d = daemon()
    chats = 0
    with d.connect() as conn:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            out = conn.chat(f"#{chats}", stream=False)
            assert out.ok, out.final
            chats += 1
            time.sleep(0.05)
    assert chats >= 20
    assert len(fake_api.state.oauth_calls) <= 4, f"{len(fake_api.state.oauth_calls)} OAuth calls in 10 s for {chats} chats"
    warnings = [line for line in d.stderr().splitlines() if "already expired" in line]
    assert len(warnings) == 1, f"expected the clock warning once, got {warnings}{d.diagnostics()}"


# --------------------------------------------------------------------------------------------------
# An SSE event that never ends


def test_endless_sse_event_is_cut_off(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(env={"GIGACHAT_MAX_CONNECTIONS": "2", "GIGACHAT_MAX_RETRIES": "0", "GIGACHAT_TIMEOUT": "30"})
    assert d.chat("прогрев").ok
    hwm_before = proc_status_kib(d.pid, "VmHWM")
    fake_api.inject("chat", "endless_data", chunks=1)
    with d.connect(timeout=15) as a, d.connect() as b:
        started = time.monotonic()
        a.request("chat", chat_params("бесконечность"), id="endless")
        assert fake_api.wait_for(lambda st: len(st.chat_requests) == 2 and st.chat_requests[1].fault == "endless_data", timeout=5)
        other = b.chat("сосед")
        assert other.ok and other.content == "Echo: сосед", other.final
        out = a.collect("endless", timeout=15)
        elapsed = time.monotonic() - started
    assert out.error["code"] == UPSTREAM_PROTOCOL, str(out.final)[:300]
    assert out.error["data"]["reason"] == "malformed", str(out.final)[:300]
    assert out.error["data"]["partial"] is True
    assert out.delta_text and out.error["data"]["result"]["choices"][0]["message"]["content"] == out.delta_text
    assert elapsed < 5, f"the endless event was cut off after {elapsed:.1f}s"
    rec = fake_api.state.chat_requests[1]
    assert fake_api.wait_for(lambda st: rec.done, timeout=5)
    assert rec.endless_bytes < 48 * MiB, f"the daemon read {rec.endless_bytes / MiB:.0f} MiB of one event before giving up"
    assert d.chat("после").ok
    growth = (proc_status_kib(d.pid, "VmHWM") - hwm_before) / 1024
    assert growth < 64, f"the daemon's peak RSS grew by {growth:.0f} MiB on one endless SSE event"


# --------------------------------------------------------------------------------------------------
# Cancel and ids


def test_cancel_answers_true_only_for_requests_it_cancels(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    outcomes = {"cancelled": 0, "too_late": 0}
    with d.connect() as conn:
        assert conn.chat("прогрев").ok
        for i in range(300):
            chat = json.dumps({"jsonrpc": "2.0", "id": f"c{i}", "method": "chat", "params": chat_params(f"#{i}")}).encode() + b"\n"
            cancel = json.dumps({"jsonrpc": "2.0", "id": f"x{i}", "method": "cancel", "params": {"id": f"c{i}"}}).encode() + b"\n"
            if i % 3 == 0:
                conn.send(chat + cancel)
            else:
                conn.send(chat)
                time.sleep(0.001 * (i % 3) * 2)
                conn.send(cancel)
            out = conn.collect(f"c{i}")
            answer = conn.collect(f"x{i}").final
            assert "result" in answer, answer
            if answer["result"]["cancelled"] is True:
                assert "error" in out.final and out.error["code"] == CANCELLED, (
                    f"race {i}: cancel said true but the chat ended with {out.final}")
                outcomes["cancelled"] += 1
            else:
                assert answer["result"]["cancelled"] is False
                outcomes["too_late"] += 1
        assert outcomes["cancelled"] > 0, f"no race was ever won by the cancel: the test proves nothing ({outcomes})"

        # A status is done at once: cancelling it may come too late, but must never claim success for it.
        for i in range(300):
            status = json.dumps({"jsonrpc": "2.0", "id": f"s{i}", "method": "status"}).encode() + b"\n"
            cancel = json.dumps({"jsonrpc": "2.0", "id": f"y{i}", "method": "cancel", "params": {"id": f"s{i}"}}).encode() + b"\n"
            conn.send(status + cancel)
            final = conn.collect(f"s{i}").final
            answer = conn.collect(f"y{i}").final
            if answer["result"]["cancelled"] is True:
                assert "error" in final and final["error"]["code"] == CANCELLED, (
                    f"status {i}: cancel said true but status answered {str(final)[:200]}")
    assert d.running


def test_id_is_reusable_as_soon_as_its_final_line_arrived(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        for i in range(500):
            out = conn.chat(f"#{i}", stream=i % 2 == 0, id=7)
            assert out.ok, f"round {i}: {out.final}"


def test_cancel_while_waiting_for_a_token(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.configure(oauth_delay=5)
    d = daemon()
    with d.connect() as conn:
        cid = conn.request("chat", chat_params("жду токен"))
        time.sleep(0.3)
        started = time.monotonic()
        answer = conn.call("cancel", {"id": cid}, timeout=2)[1]
        out = conn.collect(cid, timeout=2)
        elapsed = time.monotonic() - started
        assert out.error["code"] == CANCELLED, out.final
        assert answer["result"]["cancelled"] is True, answer
        assert elapsed < 1, f"cancelled after {elapsed:.2f}s: it waited for the token"
        assert not fake_api.state.chat_requests
        assert "result" in conn.call("status", timeout=2)[1]


# --------------------------------------------------------------------------------------------------
# Control characters from outside


def test_outside_control_characters_do_not_forge_log_lines(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    # The first OAuth call fails with a message that tries to start a log line of its own.
    fake_api.inject("oauth", "status", status=503, message="oauth down\nFORGED LINE from oauth \x1b[31mred")
    d = daemon(log_level="debug", env={"GIGACHAT_MAX_RETRIES": "0"})
    with d.connect() as conn:
        _, final = conn.call("x\nFORGED LINE from a method")
        assert final["error"]["code"] == METHOD_NOT_FOUND, final
        assert wait_until(lambda: conn.call("status")[1]["result"]["token"]["refreshes"] >= 1, 10), conn.call("status")[1]

        fake_api.inject("chat", "status", status=400, message="bad request\nFORGED LINE from the API\x1b[31m red\ttab\x00nul\x7fdel\x85nel")
        out = conn.chat("x", stream=False)
        assert out.error["code"] == UPSTREAM_ERROR, out.final
        message = out.error["message"]
        assert not has_control_character(message), repr(message)
        assert "bad request" in message and "FORGED LINE from the API" in message, repr(message)

    stderr = d.stderr()
    forged = [line for line in stderr.splitlines() if line.startswith("FORGED")]
    assert not forged, f"log lines forged from outside input: {forged}"
    assert not any(c in stderr for c in "\x1b\x00\x7f\x85"), "raw control characters from outside input in the log"


# --------------------------------------------------------------------------------------------------
# Conversations


def test_conversation_save_failure_keeps_the_reply(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    state = testenv.state / "gigachat"
    state.mkdir(parents=True, exist_ok=True)
    (state / "conversations").write_text("a file where the directory should be\n")
    d = daemon()
    with d.connect() as conn:
        out = conn.chat("запомни это", conversation="x")
    assert out.error["code"] == LOCAL_ERROR, out.final
    assert out.error["data"]["reason"] == "conversation_save", out.final
    result = out.error["data"]["result"]
    assert result["choices"][0]["message"]["content"] == "Echo: запомни это" == out.delta_text
    assert len(fake_api.state.chat_requests) == 1
