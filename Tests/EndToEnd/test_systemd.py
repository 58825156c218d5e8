"""gigachatd as a systemd user service, driven through the real binaries.

systemd itself does not run here, so each piece of its protocol is played by a stand-in:

* socket activation: ``systemd-socket-activate -l <socket>`` listens, and on the first connection execs
  gigachatd with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES (it passes on only the variables named with -E);
* sd_notify: NOTIFY_SOCKET names a datagram socket this test listens on (``NotifyListener``);
* the watchdog: WATCHDOG_USEC set and WATCHDOG_PID left unset (sd_watchdog_enabled would compare it);
* LoadCredential=: CREDENTIALS_DIRECTORY pointing at a directory of the test's;
* journald: a datagram socket at /run/systemd/journal/socket inside a private mount namespace, with
  JOURNAL_STREAM naming the daemon's stderr, so the native entries can be read back field by field;
* the unit files: ``systemd-analyze verify --user``.

Everything the daemon wrote, sent on its socket, to the notify socket or to the journal is scanned for
the secrets of the test (both keys, the issued tokens, the key planted in the environment).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

from fake_gigachat import FakeGigaChat, make_test_key
from harness import REPO_ROOT, Daemon, TestEnv, find_secrets, merge_env, wait_until
from pki import TestPKI

SSA = shutil.which("systemd-socket-activate")
ANALYZE = shutil.which("systemd-analyze")
UNSHARE = shutil.which("unshare")

needs_ssa = pytest.mark.skipif(SSA is None, reason="systemd-socket-activate is not installed (Debian package systemd)")

# A key the daemon must ignore: $CREDENTIALS_DIRECTORY outranks the environment.
ENV_DECOY_KEY = make_test_key()


# --------------------------------------------------------------------------------------------------
# Stand-ins for systemd


class NotifyListener:
    """The receiving end of NOTIFY_SOCKET: every datagram the daemon sent, parsed and kept in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.raw: list[bytes] = []
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = {}
            for line in data.decode("utf-8", "replace").split("\n"):
                if "=" in line:
                    key, _, value = line.partition("=")
                    fields[key] = value
            with self._changed:
                self.raw.append(data)
                self.messages.append((time.monotonic(), fields))
                self._changed.notify_all()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def all(self) -> list[dict[str, str]]:
        with self._changed:
            return [m for _, m in self.messages]

    def wait(self, key: str, value: Optional[str] = None, *, after: int = 0, timeout: float = 10.0,
             match: Optional[Callable[[dict[str, str]], bool]] = None) -> int:
        """Index of the first message at or after ``after`` that sets ``key`` (to ``value``)."""

        def find() -> Optional[int]:
            for i, (_, m) in enumerate(self.messages[after:], start=after):
                if key in m and (value is None or m[key] == value) and (match is None or match(m)):
                    return i
            return None

        with self._changed:
            found = self._changed.wait_for(lambda: find() is not None, timeout)
            if not found:
                raise AssertionError(
                    f"no notify message with {key}{'=' + value if value else ''} after #{after} within {timeout}s; "
                    f"got: {[m for _, m in self.messages]}"
                )
            index = find()
            assert index is not None
            return index

    def count(self, key: str, *, after: int = 0) -> int:
        with self._changed:
            return sum(1 for _, m in self.messages[after:] if key in m)

    def statuses(self) -> list[str]:
        return [m["STATUS"] for m in self.all() if "STATUS" in m]


class JournalListener:
    """A fake journald: a datagram socket that decodes the native protocol (systemd's JOURNAL_NATIVE_PROTOCOL.md)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.settimeout(0.1)
        self.raw: list[bytes] = []
        self.entries: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-listener", daemon=True)
        self._thread.start()

    @staticmethod
    def parse(data: bytes) -> dict[str, str]:
        fields: dict[str, str] = {}
        i = 0
        while i < len(data):
            newline = data.find(b"\n", i)
            if newline < 0:
                raise AssertionError(f"journal datagram ends without a newline: {data[i:i + 80]!r}")
            line = data[i:newline]
            if b"=" in line:
                name, _, value = line.partition(b"=")
                i = newline + 1
            else:
                # Binary-safe form: NAME\n, 64-bit little-endian length, value, \n.
                name = line
                (length,) = struct.unpack("<Q", data[newline + 1:newline + 9])
                start = newline + 9
                value = data[start:start + length]
                assert data[start + length:start + length + 1] == b"\n", "binary journal field not closed by a newline"
                i = start + length + 1
            fields[name.decode()] = value.decode("utf-8", "replace")
        return fields

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, ancillary, _, _ = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(4 * 4))
            except socket.timeout:
                continue
            except OSError:
                return
            for level, kind, payload in ancillary:
                # Entries too big for one datagram come as a memfd; ours never should.
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    for fd in struct.unpack(f"{len(payload) // 4}i", payload[: len(payload) // 4 * 4]):
                        with os.fdopen(fd, "rb") as f:
                            data = f.read()
            with self._lock:
                self.raw.append(data)
                self.entries.append(self.parse(data))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def all(self) -> list[dict[str, str]]:
        with self._lock:
            return list(self.entries)


def short_dir(prefix: str) -> Path:
    """A private directory with a short path: Unix socket paths must fit in 108 bytes."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    path.chmod(mode)
    return path


# --------------------------------------------------------------------------------------------------
# Fixtures


class Activated:
    """One ``systemd-socket-activate … gigachatd`` run and what it told its stand-in service manager."""

    def __init__(self, daemon: Daemon, notify: NotifyListener, socket_inode: Optional[int]) -> None:
        self.daemon = daemon
        self.notify = notify
        self.socket_inode = socket_inode


@pytest.fixture
def base_env(fake_api: FakeGigaChat, pki: TestPKI, testenv: TestEnv) -> dict[str, str]:
    """What the daemon fixture gives gigachatd, minus the key: each test decides where that comes from."""
    env = testenv.base()
    env.update({
        "GIGACHAT_TIMEOUT": "5",
        "GIGACHAT_AUTH_URL": fake_api.auth_url,
        "GIGACHAT_BASE_URL": fake_api.base_url,
        "GIGACHAT_CA_BUNDLE_FILE": str(pki.ca_cert),
        "GIGACHAT_SCOPE": fake_api.settings.scope,
    })
    return env


@pytest.fixture
def extra_secrets() -> list[str]:
    """Secrets a test adds beyond the fake's current key and tokens (an earlier key, a decoy)."""
    return [ENV_DECOY_KEY]


@pytest.fixture
def activate(
    gigachatd_bin: Path, testenv: TestEnv, fake_api: FakeGigaChat, base_env: dict[str, str], extra_secrets: list[str]
) -> Iterator[Callable[..., Activated]]:
    """Factory: ``activate(env=..., args=..., watchdog_usec=...)`` runs gigachatd under
    systemd-socket-activate with NOTIFY_SOCKET and WATCHDOG_USEC, opens the first connection (which
    starts the daemon) and waits for READY=1."""
    if SSA is None:
        pytest.skip("systemd-socket-activate is not installed")
    runs: list[Activated] = []
    scratch = short_dir("gcd-sd-")

    def start(*, env: Optional[dict[str, Optional[str]]] = None, args: list[str] | tuple[str, ...] = (),
              watchdog_usec: Optional[int] = 1_000_000, wait_ready: bool = True) -> Activated:
        n = len(runs) + 1
        notify = NotifyListener(scratch / f"notify-{n}")
        full = merge_env(base_env, env)
        full["NOTIFY_SOCKET"] = str(notify.path)
        if watchdog_usec is not None:
            full["WATCHDOG_USEC"] = str(watchdog_usec)
        full.pop("WATCHDOG_PID", None)
        socket_path = testenv.default_socket
        socket_path.parent.mkdir(mode=0o700, exist_ok=True)  # what DirectoryMode=0700 does
        # -E NAME passes the value from our environment, so no secret shows up in argv (ps).
        argv = [SSA, "-l", str(socket_path), "--fdname=gigachatd"]
        for name in sorted(full):
            argv += ["-E", name]
        argv += [str(gigachatd_bin), "--log-level", "debug", *args]
        d = Daemon(gigachatd_bin, testenv, full, socket_path, secrets=[], fake=fake_api)
        d.argv = argv
        d.start()
        assert wait_until(lambda: socket_path.exists() or not d.running, timeout=10), "systemd-socket-activate did not listen"
        inode = socket_path.stat().st_ino if socket_path.exists() else None
        run = Activated(d, notify, inode)
        runs.append(run)
        if wait_ready:
            # The first connection is what makes systemd-socket-activate exec gigachatd.
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.connect(str(socket_path))
            probe.close()
            notify.wait("READY", "1", timeout=15)
        return run

    yield start

    leaks: list[str] = []
    for run in runs:
        run.daemon.stop()
        run.notify.close()
        places = {
            "stderr": run.daemon.stderr_path.read_bytes() if run.daemon.stderr_path.exists() else b"",
            "stdout": run.daemon.stdout_path.read_bytes() if run.daemon.stdout_path.exists() else b"",
            "socket responses": run.daemon.transcript.bytes(),
            "notify messages": b"\n".join(run.notify.raw),
        }
        leaks += find_secrets(places, fake_api.secrets() + extra_secrets)
    shutil.rmtree(scratch, ignore_errors=True)
    if leaks:
        pytest.fail("secrets leaked:\n  " + "\n  ".join(sorted(set(leaks))), pytrace=False)


def credentials_dir(root: Path, key: str) -> Path:
    """What LoadCredential=gigachat-credentials:… gives the service: a private directory with the key."""
    directory = root / "credentials"
    directory.mkdir(mode=0o700, exist_ok=True)
    write_private(directory / "gigachat-credentials", key + "\n", 0o400)
    return directory


def replace_credential(directory: Path, key: str) -> None:
    path = directory / "gigachat-credentials"
    path.chmod(0o600)
    write_private(path, key + "\n", 0o400)


def oauth_keys(fake: FakeGigaChat) -> list[str]:
    return [(r.header("Authorization") or "").removeprefix("Basic ") for r in fake.state.oauth_calls]


# --------------------------------------------------------------------------------------------------
# Life cycle under socket activation


@needs_ssa
def test_activation_ready_status_watchdog_stream_and_stop(activate, fake_api: FakeGigaChat, testenv: TestEnv) -> None:
    run = activate(env={"GIGACHAT_CREDENTIALS": fake_api.settings.key})
    notify = run.notify
    ready = notify.wait("READY", "1")
    assert "STATUS" in notify.all()[ready], "READY=1 should come with a STATUS= line"

    # Half of WATCHDOG_USEC=1 s: pings about every 0.5 s, from the first round on.
    first = notify.wait("WATCHDOG", "1", after=ready, timeout=5)
    notify.wait("WATCHDOG", "1", after=first + 1, timeout=5)
    notify.wait("STATUS", after=ready, match=lambda m: "token valid until" in m["STATUS"], timeout=10)

    outcome = run.daemon.chat("Привет, systemd")
    assert outcome.content == "Echo: Привет, systemd"
    assert outcome.delta_text == outcome.content
    # The status a person reads in `systemctl --user status`: token, load, served.
    notify.wait("STATUS", after=ready, match=lambda m: "1 served" in m["STATUS"], timeout=10)
    status = notify.statuses()[-1]
    assert re.search(r"token valid until \d{4}-\d\d-\d\dT", status), status
    assert "0 in flight" in status, status

    run.daemon.signal(signal.SIGTERM)
    stopping = notify.wait("STOPPING", "1", after=ready, timeout=5)
    assert run.daemon.wait_exit(10) == 0, run.daemon.diagnostics()
    messages = notify.all()
    order = [next(i for i, m in enumerate(messages) if key in m) for key in ("READY", "WATCHDOG", "STOPPING")]
    assert order == sorted(order), f"READY, WATCHDOG, STOPPING out of order: {messages}"
    assert stopping == max(i for i, m in enumerate(messages) if "STOPPING" in m)
    # The socket belongs to the socket unit: still there, the same file, after gigachatd exits.
    assert testenv.default_socket.exists(), "gigachatd removed a socket it did not create"
    assert testenv.default_socket.stat().st_ino == run.socket_inode
    assert "activated: true" in run.daemon.stderr() or "activated=true" in run.daemon.stderr(), run.daemon.stderr()


@needs_ssa
def test_without_watchdog_usec_no_pings(activate, fake_api: FakeGigaChat) -> None:
    run = activate(env={"GIGACHAT_CREDENTIALS": fake_api.settings.key}, watchdog_usec=None)
    run.notify.wait("STATUS", match=lambda m: "token valid until" in m["STATUS"], timeout=10)
    time.sleep(0.5)
    assert run.notify.count("WATCHDOG") == 0


@needs_ssa
def test_a_passed_socket_that_is_not_a_unix_listener_is_refused(gigachatd_bin: Path, base_env: dict[str, str]) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    assert SSA is not None
    proc = subprocess.Popen([SSA, "-l", f"127.0.0.1:{port}", *sum((["-E", k] for k in base_env), []), str(gigachatd_bin)],
                            env=base_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert wait_until(lambda: _connects(port), timeout=10)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=5)
    assert proc.returncode == 1
    assert "none is a listening Unix stream socket" in err.decode(), err.decode()


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@needs_ssa
def test_sighup_reloads_credentials_and_keeps_serving(
    activate, fake_api: FakeGigaChat, testenv: TestEnv, extra_secrets: list[str]
) -> None:
    old_key = fake_api.settings.key
    extra_secrets.append(old_key)
    creds = credentials_dir(testenv.root, old_key)
    # The environment holds a decoy: the credentials directory must win over it.
    run = activate(env={"CREDENTIALS_DIRECTORY": str(creds), "GIGACHAT_CREDENTIALS": ENV_DECOY_KEY})
    notify = run.notify
    conn = run.daemon.connect()
    assert conn.chat("before").content == "Echo: before"
    assert set(oauth_keys(fake_api)) == {old_key}

    # Rotate the key: the fake accepts only the new one from now on and forgets every token it issued.
    new_key = make_test_key()
    fake_api.configure(key=new_key)
    fake_api.revoke_tokens()
    replace_credential(creds, new_key)
    mark = len(notify.all())
    run.daemon.signal(signal.SIGHUP)
    reloading = notify.wait("RELOADING", "1", after=mark)
    assert re.fullmatch(r"\d+", notify.all()[reloading].get("MONOTONIC_USEC", "")), notify.all()[reloading]
    notify.wait("READY", "1", after=reloading + 1)

    # Served on the connection opened before the reload, with a token bought with the new key.
    assert conn.chat("after").content == "Echo: after"
    assert oauth_keys(fake_api)[-1] == new_key
    assert run.daemon.running

    # A reload that fails keeps the daemon and its configuration, and says why in STATUS=.
    config = write_private(testenv.config / "gigachat" / "gigachatd.conf", "GIGACHAT_MODEL=GigaChat\n", 0o644)
    mark = len(notify.all())
    run.daemon.signal(signal.SIGHUP)
    notify.wait("RELOADING", "1", after=mark)
    ready = notify.wait("READY", "1", after=mark)
    assert "last reload failed" in notify.all()[ready].get("STATUS", ""), notify.all()[ready]
    assert str(config) in notify.all()[ready]["STATUS"] and "chmod 600" in notify.all()[ready]["STATUS"]
    assert conn.chat("still").content == "Echo: still"
    config.chmod(0o600)
    mark = len(notify.all())
    run.daemon.signal(signal.SIGHUP)
    ready = notify.wait("READY", "1", after=mark)
    assert "last reload failed" not in notify.all()[ready].get("STATUS", "")

    run.daemon.signal(signal.SIGTERM)
    assert run.daemon.wait_exit(10) == 0, run.daemon.diagnostics()


@needs_ssa
def test_sighup_rereads_a_config_file_that_is_also_the_environment_file(
    activate, fake_api: FakeGigaChat, testenv: TestEnv
) -> None:
    # The unit loads gigachatd.conf as EnvironmentFile= too, so its values are in the environment,
    # which normally outranks the file; an edit must still take effect on reload.
    config = write_private(testenv.config / "gigachat" / "gigachatd.conf", "GIGACHAT_MODEL=GigaChat-2\n")
    run = activate(env={"GIGACHAT_CREDENTIALS": fake_api.settings.key, "GIGACHAT_MODEL": "GigaChat-2"})
    assert run.daemon.chat("one").ok
    assert fake_api.state.chat_requests[-1].json["model"] == "GigaChat-2"

    write_private(config, "GIGACHAT_MODEL=GigaChat-2-Pro\n")
    mark = len(run.notify.all())
    run.daemon.signal(signal.SIGHUP)
    run.notify.wait("READY", "1", after=run.notify.wait("RELOADING", "1", after=mark) + 1)
    assert run.daemon.chat("two").ok
    assert fake_api.state.chat_requests[-1].json["model"] == "GigaChat-2-Pro"


@needs_ssa
def test_sigterm_lets_a_live_stream_finish_and_refuses_new_requests(
    activate, fake_api: FakeGigaChat, testenv: TestEnv
) -> None:
    run = activate(env={"GIGACHAT_CREDENTIALS": fake_api.settings.key})
    fake_api.configure(chunks=6, chunk_interval=0.3)  # about 1.8 s of stream
    conn = run.daemon.connect()
    prompt = "a slow one"
    rid = conn.request("chat", {"messages": [{"role": "user", "content": prompt}], "stream": True})
    first = conn.read_message(5)
    assert first is not None and first.get("method") == "chat.delta", first

    run.daemon.signal(signal.SIGTERM)
    stopping = run.notify.wait("STOPPING", "1", timeout=5)
    assert "draining 1 request" in run.notify.all()[stopping].get("STATUS", ""), run.notify.all()[stopping]
    refused = conn.call("chat", {"messages": [{"role": "user", "content": "late"}], "stream": True})[1]
    assert refused.get("error", {}).get("code") == -32007, refused

    outcome = conn.collect(rid, timeout=10)
    assert outcome.content == f"Echo: {prompt}"
    assert first["params"]["content"] + outcome.delta_text == outcome.content
    assert run.daemon.wait_exit(10) == 0, run.daemon.diagnostics()
    assert testenv.default_socket.exists() and testenv.default_socket.stat().st_ino == run.socket_inode


@needs_ssa
def test_drain_timeout_ends_a_stream_with_an_error_and_exits_zero(activate, fake_api: FakeGigaChat) -> None:
    run = activate(env={"GIGACHAT_CREDENTIALS": fake_api.settings.key, "GIGACHATD_DRAIN_TIMEOUT": "0.5"})
    fake_api.configure(chunks=20, chunk_interval=1.0)  # 20 s: far longer than the drain allows
    conn = run.daemon.connect()
    rid = conn.request("chat", {"messages": [{"role": "user", "content": "endless"}], "stream": True})
    first = conn.read_message(5)
    assert first is not None and first.get("method") == "chat.delta", first

    started = time.monotonic()
    run.daemon.signal(signal.SIGTERM)
    run.notify.wait("STOPPING", "1", timeout=5)
    outcome = conn.collect(rid, timeout=10)
    assert "error" in outcome.final, outcome.final
    error = outcome.final["error"]
    assert error["code"] == -32007 and "GIGACHATD_DRAIN_TIMEOUT" in error["message"], error
    # What had been streamed is not lost: the error carries the partial reply.
    assert error.get("data", {}).get("partial") is True, error
    assert run.daemon.wait_exit(10) == 0, run.daemon.diagnostics()
    assert time.monotonic() - started < 6, "the drain did not stop at GIGACHATD_DRAIN_TIMEOUT"
    # The manager is asked for the time the drain needs, beyond TimeoutStopSec= if need be.
    assert any("EXTEND_TIMEOUT_USEC" in m for m in run.notify.all())


@needs_ssa
def test_second_sigterm_cuts_the_drain_short(activate, fake_api: FakeGigaChat) -> None:
    run = activate(env={"GIGACHAT_CREDENTIALS": fake_api.settings.key})
    fake_api.configure(chunks=20, chunk_interval=1.0)
    conn = run.daemon.connect()
    rid = conn.request("chat", {"messages": [{"role": "user", "content": "endless"}], "stream": True})
    assert conn.read_message(5) is not None
    run.daemon.signal(signal.SIGTERM)
    run.notify.wait("STOPPING", "1", timeout=5)
    started = time.monotonic()
    run.daemon.signal(signal.SIGINT)
    assert "error" in conn.collect(rid, timeout=10).final
    assert run.daemon.wait_exit(10) == 0, run.daemon.diagnostics()
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------------------------------
# Permissions


def run_daemon_once(gigachatd_bin: Path, env: dict[str, str], *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(gigachatd_bin), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_config_file_readable_by_others_is_refused(gigachatd_bin: Path, base_env: dict[str, str], testenv: TestEnv,
                                                   fake_api: FakeGigaChat) -> None:
    config = write_private(testenv.config / "gigachat" / "gigachatd.conf",
                           f"GIGACHAT_CREDENTIALS={fake_api.settings.key}\n", 0o644)
    result = run_daemon_once(gigachatd_bin, base_env, "--socket", str(testenv.default_socket))
    assert result.returncode != 0
    assert str(config) in result.stderr and "chmod 600" in result.stderr, result.stderr
    assert not testenv.default_socket.exists()
    assert not find_secrets({"stderr": result.stderr.encode(), "stdout": result.stdout.encode()}, fake_api.secrets())


def test_allow_insecure_permissions_starts_anyway(daemon, testenv: TestEnv, fake_api: FakeGigaChat) -> None:
    config = write_private(testenv.config / "gigachat" / "gigachatd.conf", "GIGACHAT_MODEL=GigaChat\n", 0o644)
    d = daemon(args=["--config", str(config), "--allow-insecure-permissions"])
    assert d.chat("ok?").content == "Echo: ok?"


def test_key_file_readable_by_others_is_refused(gigachatd_bin: Path, base_env: dict[str, str], testenv: TestEnv,
                                                pki: TestPKI) -> None:
    cert = testenv.root / "client.crt"
    key = testenv.root / "client.key"
    shutil.copy(pki.server_cert, cert)
    shutil.copy(pki.server_key, key)
    key.chmod(0o640)
    env = dict(base_env, GIGACHAT_CERT_FILE=str(cert), GIGACHAT_KEY_FILE=str(key))
    result = run_daemon_once(gigachatd_bin, env, "--socket", str(testenv.default_socket))
    assert result.returncode != 0
    assert str(key) in result.stderr and "chmod 600" in result.stderr, result.stderr


def test_credentials_source_readable_by_others_is_refused(gigachatd_bin: Path, base_env: dict[str, str],
                                                          testenv: TestEnv, fake_api: FakeGigaChat) -> None:
    # LoadCredential= copies ~/.config/gigachat/credentials whatever its mode; gigachatd checks the source.
    source = write_private(testenv.config / "gigachat" / "credentials", fake_api.settings.key + "\n", 0o644)
    creds = credentials_dir(testenv.root, fake_api.settings.key)
    env = dict(base_env, CREDENTIALS_DIRECTORY=str(creds))
    result = run_daemon_once(gigachatd_bin, env, "--socket", str(testenv.default_socket))
    assert result.returncode != 0
    assert str(source) in result.stderr and "chmod 600" in result.stderr, result.stderr
    assert not find_secrets({"stderr": result.stderr.encode()}, fake_api.secrets())


# --------------------------------------------------------------------------------------------------
# The journal


def _mount_namespace_works() -> bool:
    if UNSHARE is None or not Path("/run/systemd").is_dir():
        return False
    probe = subprocess.run([UNSHARE, "--mount", "--propagation", "private", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture
def fake_journald() -> Iterator[tuple[JournalListener, Callable[[list[str]], list[str]]]]:
    """A fake journald, and a wrapper for argv that runs the command where /run/systemd is ours, so
    sd_journal_sendv(3) (whose socket path is fixed) reaches the fake. Skips where mount namespaces
    cannot be had (not root)."""
    if not _mount_namespace_works():
        pytest.skip("needs unshare --mount (root) to give gigachatd a private /run/systemd with a fake journald")
    scratch = short_dir("gcd-journal-")
    (scratch / "journal").mkdir()
    journal = JournalListener(scratch / "journal" / "socket")
    script = 'mount --bind "$0" /run/systemd && exec "$@"'

    def wrap(argv: list[str]) -> list[str]:
        assert UNSHARE is not None
        return [UNSHARE, "--mount", "--propagation", "private", "sh", "-c", script, str(scratch), *argv]

    try:
        yield journal, wrap
    finally:
        journal.close()
        shutil.rmtree(scratch, ignore_errors=True)


def test_journal_entries_carry_fields_and_no_secrets(
    gigachatd_bin: Path, base_env: dict[str, str], testenv: TestEnv, fake_api: FakeGigaChat, fake_journald
) -> None:
    journal, wrap = fake_journald
    stderr_path = testenv.root / "journal-run.stderr"
    stdout_path = testenv.root / "journal-run.stdout"
    socket_path = testenv.default_socket
    proc: Optional[subprocess.Popen[bytes]] = None
    try:
        with open(stderr_path, "wb") as err, open(stdout_path, "wb") as out:
            st = os.fstat(err.fileno())
            env = dict(base_env, GIGACHAT_CREDENTIALS=fake_api.settings.key,
                       JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
            proc = subprocess.Popen(
                wrap([str(gigachatd_bin), "--socket", str(socket_path), "--log-level", "debug"]),
                env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        d = Daemon(gigachatd_bin, testenv, env, socket_path, fake=fake_api)
        d.proc = proc
        d.stderr_path, d.stdout_path = stderr_path, stdout_path
        d.wait_ready()
        with d.connect() as conn:
            assert conn.chat("journal me").ok
            fake_api.inject("chat", "status", status=400, message="bad request from the test")
            failed = conn.chat("fail me")
            assert "error" in failed.final
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, stderr_path.read_text()
        assert wait_until(lambda: any(e.get("MESSAGE", "").startswith("gigachatd stopped") for e in journal.all()), 3)

        entries = journal.all()
        assert entries, "no journal entries"
        for e in entries:
            assert e.get("SYSLOG_IDENTIFIER") == "gigachatd", e
            assert e.get("PRIORITY") in {str(p) for p in range(8)}, e
            assert "MESSAGE" in e and all(not k.startswith("_") for k in e), e
        failure = next((e for e in entries if e["MESSAGE"].startswith("request failed")), None)
        assert failure is not None, [e["MESSAGE"] for e in entries]
        assert failure["METHOD"] == "chat" and failure["UPSTREAM_STATUS"] == "400", failure
        assert re.fullmatch(r"\d+", failure["DURATION_MS"]) and failure["REQUEST_ID"], failure
        assert failure["ERROR_CODE"].startswith("-320"), failure
        assert failure["PRIORITY"] == "6"  # info
        done = next((e for e in entries if e["MESSAGE"].startswith("request done")), None)
        assert done is not None and done["PRIORITY"] == "7" and "DURATION_MS" in done, done
        ready = next(e for e in entries if e["MESSAGE"].startswith("gigachatd ready"))
        assert ready["PRIORITY"] == "5" and ready["SOCKET"] == str(socket_path), ready
        # Native entries instead of lines on stderr: nothing was logged twice.
        assert "gigachatd ready" not in stderr_path.read_text()

        places = {
            "journal": b"\n".join(journal.raw),
            "stderr": stderr_path.read_bytes(),
            "socket responses": d.transcript.bytes(),
        }
        leaks = find_secrets(places, fake_api.secrets() + [ENV_DECOY_KEY])
        assert not leaks, leaks
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_refusal_goes_to_the_journal_as_an_error(
    gigachatd_bin: Path, base_env: dict[str, str], testenv: TestEnv, fake_api: FakeGigaChat, fake_journald
) -> None:
    journal, wrap = fake_journald
    config = write_private(testenv.config / "gigachat" / "gigachatd.conf",
                           f"GIGACHAT_CREDENTIALS={fake_api.settings.key}\n", 0o644)
    stderr_path = testenv.root / "refusal.stderr"
    with open(stderr_path, "wb") as err:
        st = os.fstat(err.fileno())
        env = dict(base_env, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
        result = subprocess.run(wrap([str(gigachatd_bin), "--socket", str(testenv.default_socket)]), env=env,
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 78
    assert wait_until(lambda: bool(journal.all()), 3), stderr_path.read_text()
    entry = journal.all()[-1]
    assert entry["PRIORITY"] == "3" and str(config) in entry["MESSAGE"] and "chmod 600" in entry["MESSAGE"], entry
    assert not find_secrets({"journal": b"\n".join(journal.raw), "stderr": stderr_path.read_bytes()}, fake_api.secrets())


def test_stderr_gets_plain_lines_when_journal_stream_is_not_stderr(daemon, fake_api: FakeGigaChat) -> None:
    # JOURNAL_STREAM inherited from a parent whose stderr was the journal, but ours is a file.
    d = daemon(env={"JOURNAL_STREAM": "1:1"})
    assert d.chat("plain").ok
    assert "gigachatd ready" in d.stderr()


# --------------------------------------------------------------------------------------------------
# The unit files


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_unit_files_verify(tmp_path: Path, gigachatd_bin: Path) -> None:
    units = tmp_path / "units"
    units.mkdir()
    service = (REPO_ROOT / "systemd" / "gigachatd.service").read_text()
    assert "@BINDIR@/gigachatd" in service
    # What `make install` does: the real path of the installed binary.
    (units / "gigachatd.service").write_text(service.replace("@BINDIR@", str(gigachatd_bin.parent)))
    shutil.copy(REPO_ROOT / "systemd" / "gigachatd.socket", units / "gigachatd.socket")
    runtime = short_dir("gcd-xrd-")
    try:
        env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), SYSTEMD_LOG_LEVEL="notice")
        result = subprocess.run(
            [ANALYZE, "verify", "--user", str(units / "gigachatd.socket"), str(units / "gigachatd.service")],
            env=env, capture_output=True, text=True, timeout=60,
        )
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, output
    # verify exits 0 on unknown keys and bad values, but says so: any remark about our units fails.
    remarks = [line for line in output.splitlines() if "gigachatd." in line]
    assert not remarks, output


def test_unit_files_say_what_issue_3_asks() -> None:
    service = (REPO_ROOT / "systemd" / "gigachatd.service").read_text()
    socket_unit = (REPO_ROOT / "systemd" / "gigachatd.socket").read_text()

    def settings(text: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")) and "=" in line:
                key, _, value = line.partition("=")
                out.setdefault(key, []).append(value)
        return out

    s, k = settings(service), settings(socket_unit)
    assert k["ListenStream"] == ["%t/gigachat/gigachatd.sock", "%t/gigachat/openai.sock"]
    assert k["SocketMode"] == ["0600"] and k["DirectoryMode"] == ["0700"]
    assert "RemoveOnStop" not in k or k["RemoveOnStop"] == ["no"]
    assert s["Type"] == ["notify"] and s["ExecStart"][0].startswith("@BINDIR@/gigachatd")
    assert "WatchdogSec" in s and s["Restart"] == ["on-failure"]
    assert "HUP" in s["ExecReload"][0]
    assert s["LoadCredential"] == ["gigachat-credentials:%E/gigachat/credentials"]
    assert s["EnvironmentFile"] == ["-%E/gigachat/gigachatd.conf"]
    assert s["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    for key in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp", "LockPersonality", "MemoryDenyWriteExecute"):
        assert key in s, key
    # Not available or not wanted on systemd 252 user units.
    for key in ("RuntimeDirectory", "LoadCredentialEncrypted", "SetCredentialEncrypted"):
        assert key not in s, key
    assert s["Type"] != ["notify-reload"]
