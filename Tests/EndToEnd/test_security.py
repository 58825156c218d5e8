"""Nobody else let in: peer credentials on accept, the socket directory's owner,
and the daemon's memory kept out of core dumps and debuggers.

These tests need root (to act as another uid with setpriv), as CI runs; elsewhere they skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from fake_gigachat import FakeGigaChat
from harness import NOBODY, PEER_CLIENT, DaemonFactory, as_nobody, open_doors, wait_until
from pki import TestPKI

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="acting as another uid needs root and setpriv")


@needs_root
def test_another_uid_gets_one_error_line_and_is_closed(daemon: DaemonFactory) -> None:
    d = daemon()
    open_doors(d.socket_path)
    result = as_nobody("python3", "-c", PEER_CLIENT, str(d.socket_path), '{"id":1,"method":"status"}\n')
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 1, f"expected exactly one error line, got {lines}"
    reply = json.loads(lines[0])
    assert reply["error"]["code"] == -32009
    assert "access denied" in reply["error"]["message"]
    assert "result" not in reply
    # The owner is still served, and the refusal was logged.
    with d.connect() as conn:
        _, final = conn.call("status")
        assert "result" in final, final
    assert "refused a connection from another user" in d.stderr()


@needs_root
def test_socket_directory_owned_by_someone_else_is_refused(daemon: DaemonFactory, tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="gcd-own-"))
    try:
        directory = base / "gigachat"
        directory.mkdir(mode=0o700)
        os.chown(directory, NOBODY, NOBODY)
        d = daemon(socket=directory / "gigachatd.sock", wait=False)
        code = d.wait_exit(10)
        assert code != 0
        assert "belongs to uid 65534" in d.stderr(), d.stderr()
        assert not (directory / "gigachatd.sock").exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@needs_root
def test_socket_path_that_is_a_symlink_is_refused(daemon: DaemonFactory) -> None:
    base = Path(tempfile.mkdtemp(prefix="gcd-link-"))
    try:
        real = base / "real"
        real.mkdir(mode=0o700)
        link = base / "gigachat"
        link.symlink_to(real)
        d = daemon(socket=link / "gigachatd.sock", wait=False)
        assert d.wait_exit(10) != 0
        assert "not a directory" in d.stderr(), d.stderr()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@needs_root
def test_no_core_dumps_and_no_ptrace_attach(pki: TestPKI, fake_api: FakeGigaChat, gigachatd_bin: Path) -> None:
    """Run the daemon as an unprivileged user: RLIMIT_CORE must be 0 and the process non-dumpable,
    which the kernel shows by handing its /proc files to root (and which also refuses ptrace by that user)."""
    home = Path(tempfile.mkdtemp(prefix="gcd-nobody-"))
    os.chmod(home, 0o755)
    try:
        for sub in ("run", "config", "state"):
            (home / sub).mkdir(mode=0o700)
            os.chown(home / sub, NOBODY, NOBODY)
        ca = home / "ca.pem"
        shutil.copy(pki.ca_cert, ca)
        os.chmod(ca, 0o644)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "XDG_RUNTIME_DIR": str(home / "run"), "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
            "GIGACHAT_CREDENTIALS": fake_api.settings.key, "GIGACHAT_AUTH_URL": fake_api.auth_url,
            "GIGACHAT_BASE_URL": fake_api.base_url, "GIGACHAT_CA_BUNDLE_FILE": str(ca),
        }
        proc = subprocess.Popen(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", str(gigachatd_bin)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            sock = home / "run" / "gigachat" / "gigachatd.sock"
            assert wait_until(sock.exists, 10), "daemon did not start as nobody"
            limits = Path(f"/proc/{proc.pid}/limits").read_text()
            core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
            assert core.split()[4:6] == ["0", "0"], core
            status_owner = os.stat(f"/proc/{proc.pid}/environ").st_uid
            assert status_owner == 0, "a dumpable process's /proc files belong to its user; PR_SET_DUMPABLE 0 gives them to root"
            attach = as_nobody("python3", "-c",
                               "import ctypes,sys; libc=ctypes.CDLL(None, use_errno=True);"
                               "r=libc.ptrace(16, int(sys.argv[1]), 0, 0);"
                               "sys.exit(0 if r == -1 else 1)", str(proc.pid))
            assert attach.returncode == 0, "PTRACE_ATTACH by the same user must fail"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)
