"""The clients check whom they talk to before sending a prompt: gigachatctl and contrib/gigachat_client.py
refuse a socket whose directory or file belongs to another user, whose directory others can write or
is a symlink, or whose listening process runs as another user, with exit status 3 and one line saying
what to do. A fake "daemon" listens at each such socket and must never receive a byte.

These tests need root (to act as another uid), as CI runs; elsewhere they skip and say why.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from harness import REPO_ROOT, TestEnv, merge_env, run_ctl

NOBODY = 65534
PROMPT = "секретный вопрос, который никто другой не должен прочесть"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another uid needs root")

# A listener that records what it receives: "ready" once listening, then per connection the number of
# bytes it got before the client closed (or went quiet for a second). `as` decides who it is:
#   nobody        - binds and listens as uid 65534 (the socket file is nobody's);
#   root          - binds and listens as root;
#   listen-nobody - binds as root (the socket file is root's) and listens as 65534, so only the
#                   peer credentials (taken at listen()) give it away.
FAKE_DAEMON = r"""
import os, socket, sys
path, who = sys.argv[1], sys.argv[2]

def become_nobody():
    os.setgroups([])
    os.setresgid(65534, 65534, 65534)
    os.setresuid(65534, 65534, 65534)

if who == "nobody":
    become_nobody()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
if who == "listen-nobody":
    become_nobody()
s.listen(16)
print("ready", flush=True)
while True:
    conn, _ = s.accept()
    conn.settimeout(1.0)
    got = 0
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += len(chunk)
    except socket.timeout:
        pass
    print(got, flush=True)
    conn.close()
"""


class FakeDaemon:
    def __init__(self, socket_path: Path, who: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", FAKE_DAEMON, str(socket_path), who],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buffer = b""
        assert self.read_line(10) == "ready", self.proc.stderr.read().decode() if self.proc.stderr else ""

    def read_line(self, timeout: float) -> str | None:
        """The next line, read from the descriptor itself (a buffered readline would hide lines from select)."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode().strip()

    def connections(self, expect: int, timeout: float = 5.0) -> list[int]:
        """Bytes received on each connection, once `expect` connections were seen (or the time is up)."""
        deadline = time.monotonic() + timeout
        counts: list[int] = []
        while len(counts) < expect and time.monotonic() < deadline:
            line = self.read_line(max(0.0, deadline - time.monotonic()))
            if line is not None:
                counts.append(int(line))
        while (line := self.read_line(0.2)) is not None:  # anything more than expected
            counts.append(int(line))
        return counts

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


@dataclass
class Setup:
    runtime: Path  # XDG_RUNTIME_DIR: the clients use their default path, runtime/gigachat/gigachatd.sock
    socket: Path
    fake: FakeDaemon
    complaint: tuple[str, ...]  # what the one line of refusal says
    connects: bool  # the refusal comes after connecting (the peer check), not before


def _make(base: Path, case: str) -> Setup:
    os.chmod(base, 0o755)  # nobody must reach its own directory inside
    directory = base / "gigachat"
    sock = directory / "gigachatd.sock"
    if case == "directory-of-another-user":
        # What anyone can do to /tmp/gigachat-$UID/ before the victim's daemon first starts.
        directory.mkdir()
        os.chown(directory, NOBODY, NOBODY)
        os.chmod(directory, 0o700)
        return Setup(base, sock, FakeDaemon(sock, "nobody"), ("uid 65534", str(directory)), False)
    if case == "group-writable-directory":
        directory.mkdir()
        os.chmod(directory, 0o770)
        return Setup(base, sock, FakeDaemon(sock, "root"), ("writable by others", "chmod 700"), False)
    if case == "symlinked-directory":
        real = base / "elsewhere"
        real.mkdir()
        os.chown(real, NOBODY, NOBODY)
        os.chmod(real, 0o700)
        directory.symlink_to(real)
        return Setup(base, sock, FakeDaemon(real / "gigachatd.sock", "nobody"), ("symbolic link", str(directory)), False)
    if case == "socket-of-another-user":
        directory.mkdir(mode=0o700)
        fake = FakeDaemon(sock, "root")
        os.chown(sock, NOBODY, NOBODY)
        return Setup(base, sock, fake, ("socket belongs to uid 65534",), False)
    if case == "listener-of-another-user":
        directory.mkdir(mode=0o700)
        return Setup(base, sock, FakeDaemon(sock, "listen-nobody"), ("runs as uid 65534",), True)
    raise AssertionError(case)


CASES = ["directory-of-another-user", "group-writable-directory", "symlinked-directory", "socket-of-another-user",
         "listener-of-another-user"]


@pytest.fixture(params=CASES)
def untrusted(request: pytest.FixtureRequest) -> Iterator[Setup]:
    base = Path(tempfile.mkdtemp(prefix="gcd-trust-"))  # short: a socket path must fit in 108 bytes
    setup = None
    try:
        setup = _make(base, request.param)
        yield setup
    finally:
        if setup is not None:
            setup.fake.stop()
        shutil.rmtree(base, ignore_errors=True)


def _assert_refused(returncode: int, stdout: str, stderr: str, setup: Setup) -> None:
    assert returncode == 3, (returncode, stdout, stderr)
    assert stdout == "", stdout
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "refusing" in lines[0] and str(setup.socket) in lines[0], lines[0]
    for words in setup.complaint:
        assert words in lines[0], f"{words!r} missing from: {lines[0]}"
    assert PROMPT not in stderr
    counts = setup.fake.connections(1 if setup.connects else 0)
    if setup.connects:
        assert counts == [0], f"the other user's listener got {counts} bytes: the prompt was sent"
    else:
        assert counts == [], f"the client connected to a socket it should not trust: {counts}"


@needs_root
def test_gigachatctl_refuses_a_socket_that_is_not_its_own(untrusted: Setup, gigachatctl_bin: Path, testenv: TestEnv) -> None:
    r = run_ctl(gigachatctl_bin, testenv, "chat", PROMPT, env={"XDG_RUNTIME_DIR": str(untrusted.runtime)})
    _assert_refused(r.returncode, r.stdout, r.stderr, untrusted)


@needs_root
def test_contrib_client_refuses_a_socket_that_is_not_its_own(untrusted: Setup, testenv: TestEnv) -> None:
    r = subprocess.run(
        [sys.executable, str(REPO_ROOT / "contrib" / "gigachat_client.py"), PROMPT],
        env=merge_env(testenv.base(), {"XDG_RUNTIME_DIR": str(untrusted.runtime)}), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=20, cwd=testenv.root,
    )
    _assert_refused(r.returncode, r.stdout, r.stderr, untrusted)


@needs_root
def test_the_refusal_applies_to_an_explicit_socket_and_to_every_command(gigachatctl_bin: Path, testenv: TestEnv) -> None:
    base = Path(tempfile.mkdtemp(prefix="gcd-trust-"))
    try:
        setup = _make(base, "listener-of-another-user")
        try:
            for args in (("--socket", str(setup.socket), "status"), ("conversations", "list"), ("chat", "-i")):
                r = run_ctl(gigachatctl_bin, testenv, *args, input=PROMPT + "\n",
                            env={"GIGACHATD_SOCKET": str(setup.socket)})
                assert r.returncode == 3 and "runs as uid 65534" in r.stderr, r
            assert setup.fake.connections(3) == [0, 0, 0]
        finally:
            setup.fake.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@needs_root
def test_contrib_library_raises_untrusted_socket(testenv: TestEnv) -> None:
    import asyncio
    import importlib.util

    spec = importlib.util.spec_from_file_location("gigachat_client", REPO_ROOT / "contrib" / "gigachat_client.py")
    assert spec and spec.loader
    gc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gc)
    base = Path(tempfile.mkdtemp(prefix="gcd-trust-"))
    try:
        setup = _make(base, "listener-of-another-user")
        try:
            with pytest.raises(gc.UntrustedSocket, match="runs as uid 65534") as caught:
                asyncio.run(gc.GigaChatClient.connect(str(setup.socket)))
            assert isinstance(caught.value, PermissionError)
            assert setup.fake.connections(1) == [0]
        finally:
            setup.fake.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_missing_socket_is_still_not_running(gigachatctl_bin: Path, testenv: TestEnv) -> None:
    """The checks do not get in the way of the usual message when there is simply no daemon."""
    r = run_ctl(gigachatctl_bin, testenv, "chat", "hi")
    assert r.returncode == 3 and "is it running?" in r.stderr and "refusing" not in r.stderr, r
    r = subprocess.run([sys.executable, str(REPO_ROOT / "contrib" / "gigachat_client.py"), "hi"],
                       env=testenv.base(), capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 3 and "refusing" not in r.stderr, r
