"""gigachatd under a real ``systemd --user`` manager, installed the way a user installs it.

Each test module instance starts a user manager for a throwaway user in namespaces of its own
(user_manager.py says how, and why nothing outside changes), installs gigachatd one way, and runs every
test against it:

* ``make install``: ``make install-files PREFIX=~/.local`` run by the user, with copies of the binaries
  under test (``$GIGACHATD_BIN``/``$GIGACHATCTL_BIN`` or .build/debug), units into ~/.config/systemd/user;
* ``deb``: ``apt-get install ./gigachatd_*.deb`` (the package of ``make deb``, named by
  ``$GIGACHATD_DEB``) into the namespace's overlay on /usr, units from /usr/lib/systemd/user.

The fake GigaChat API listens on 127.0.0.1 in this process; the daemon reaches it there (the network is
shared), trusting the test CA through ``GIGACHAT_CA_BUNDLE_FILE`` in ~/.config/gigachat/gigachatd.conf.
Every client call is ``gigachatctl`` run as the user, as a script would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import pytest

from fake_gigachat import FakeGigaChat, FakeSettings, make_test_key
from harness import REPO_ROOT, BinaryMissing, find_binary, find_secrets
from pki import TestPKI
from user_manager import UserManager, UserManagerUnavailable, remove_cgroup, unavailable_reason

UNAVAILABLE = unavailable_reason()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"no user manager here: {UNAVAILABLE}")

DROPIN = "gigachatd-no-namespaces.conf"
# What the repository's Makefile needs to install: a user's unpacked source, without the build.
SOURCE_PARTS = ("Makefile", "systemd", "docs", "Sources")


@dataclass
class Installed:
    manager: UserManager
    method: str
    bindir: str  # where gigachatd and gigachatctl were installed
    unitdir: str  # where the units were installed
    fake: FakeGigaChat
    secrets: set[str] = field(default_factory=set)  # every key and token the fake ever issued

    @property
    def ctl(self) -> str:
        return f"{self.bindir}/gigachatctl"

    def chat(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return self.manager.run(self.ctl, "chat", *args, timeout=timeout)

    def write_credentials(self, key: str, mode: str = "600") -> None:
        self.manager.write_file(f"{self.manager.home}/.config/gigachat/credentials", key + "\n", mode)

    def service(self, *properties: str) -> dict[str, str]:
        return self.manager.show("gigachatd.service", *properties)

    def socket(self, *properties: str) -> dict[str, str]:
        return self.manager.show("gigachatd.socket", *properties)

    def main_pid(self) -> int:
        return int(self.service("MainPID")["MainPID"])

    def proc(self, pid: int) -> Path:
        """/proc/PID of a process of the namespace, as the host reaches it."""
        return self.manager.path(f"/proc/{pid}")


def _copy_in(manager: UserManager, source: Path, inside: str, mode: int) -> None:
    target = manager.path(inside)
    shutil.copyfile(source, target)
    os.chmod(target, mode)
    os.chown(target, manager.uid, manager.gid)


def _install_with_make(manager: UserManager) -> tuple[str, str]:
    home = manager.home
    try:
        binaries = [find_binary("gigachatd", "GIGACHATD_BIN"), find_binary("gigachatctl", "GIGACHATCTL_BIN")]
    except BinaryMissing as e:
        pytest.fail(str(e), pytrace=False)
    # The user's own copies: the source tree they unpacked and the binaries they built.
    manager.run("mkdir", "-p", f"{home}/src", f"{home}/build", check=True)
    src = manager.path(f"{home}/src")
    for part in SOURCE_PARTS:
        origin = REPO_ROOT / part
        if origin.is_dir():
            shutil.copytree(origin, src / part, ignore=shutil.ignore_patterns("*.o", ".build*"))
        else:
            shutil.copy2(origin, src / part)
    for dirpath, dirnames, filenames in os.walk(src):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), manager.uid, manager.gid)
    for binary in binaries:
        _copy_in(manager, binary, f"{home}/build/{binary.name}", 0o755)
    manager.run("make", "-C", f"{home}/src", "--no-print-directory", "install-files", f"BUILT={home}/build",
                f"PREFIX={home}/.local", check=True, timeout=120)
    return f"{home}/.local/bin", f"{home}/.config/systemd/user"


def _install_deb(manager: UserManager, deb: Path) -> tuple[str, str]:
    _copy_in(manager, deb, f"/tmp/{deb.name}", 0o644)
    # Into the namespace's overlays of /usr, /etc and /var; the machine that built the package has every
    # dependency already, so nothing is downloaded.
    manager.run("apt-get", "install", "-y", "-q", f"/tmp/{deb.name}", root=True, check=True, timeout=300)
    return "/usr/bin", "/usr/lib/systemd/user"


@pytest.fixture(scope="module", params=["make-install", "deb"])
def installed(request: pytest.FixtureRequest, pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    deb = os.environ.get("GIGACHATD_DEB")
    if request.param == "deb" and not deb:
        pytest.skip("GIGACHATD_DEB is not set: `make deb`, then GIGACHATD_DEB=$(make -s print-deb)")
    manager = UserManager(tmp_path_factory.mktemp(f"user-manager-{request.param}"))
    fake = FakeGigaChat(pki).start()
    try:
        try:
            manager.start()
        except UserManagerUnavailable as e:
            pytest.fail(str(e), pytrace=False)
        if request.param == "deb":
            assert deb is not None
            bindir, unitdir = _install_deb(manager, Path(deb).resolve())
        else:
            bindir, unitdir = _install_with_make(manager)
        inst = Installed(manager, request.param, bindir, unitdir, fake)
        home = manager.home
        manager.run("install", "-d", "-m", "700", f"{home}/.config/gigachat", check=True)
        _copy_in(manager, pki.ca_cert, f"{home}/.config/gigachat/test-ca.pem", 0o644)
        manager.write_file(f"{home}/.config/gigachat/gigachatd.conf",
                           f"GIGACHAT_AUTH_URL={fake.auth_url}\nGIGACHAT_BASE_URL={fake.base_url}\n"
                           f"GIGACHAT_CA_BUNDLE_FILE={home}/.config/gigachat/test-ca.pem\nGIGACHAT_TIMEOUT=5\n")
        inst.write_credentials(fake.settings.key)
        manager.systemctl("daemon-reload")
        manager.systemctl("enable", "--now", "gigachatd.socket")
        yield inst
    finally:
        manager.close()
        fake.stop()


@pytest.fixture
def svc(installed: Installed) -> Iterator[Installed]:
    """``installed``, with the service stopped, nothing failed, the stock units and a fresh key."""
    m, fake = installed.manager, installed.fake
    m.systemctl("stop", "gigachatd.service", check=False)
    m.run("install", "-d", "-m", "0700", "/run/systemd/unit-root", root=True, check=True)
    m.run("rm", "-rf", f"{m.home}/.config/systemd/user/gigachatd.service.d", check=True)
    m.systemctl("daemon-reload")
    m.systemctl("reset-failed", "gigachatd.socket", "gigachatd.service", check=False)
    fake.settings = FakeSettings(key=make_test_key())
    fake.clear_faults()
    fake.revoke_tokens()
    fake.reset_stats()
    installed.write_credentials(fake.settings.key)
    m.systemctl("start", "gigachatd.socket")
    assert installed.socket("ActiveState")["ActiveState"] == "active", m.status("gigachatd.socket")
    assert installed.service("ActiveState")["ActiveState"] == "inactive", m.status("gigachatd.service")
    try:
        yield installed
    finally:
        installed.secrets.update(fake.secrets())


def _status_line(inst: Installed) -> str:
    return inst.service("StatusText")["StatusText"]


def _exposure(inst: Installed) -> float:
    """`systemd-analyze --user security`'s overall exposure of the service (0 best, 10 worst)."""
    out = inst.manager.run("systemd-analyze", "--user", "security", "--no-pager", "gigachatd.service",
                           check=True).stdout
    line = next(line for line in out.splitlines() if "Overall exposure level" in line)
    return float(line.split(":")[1].split()[0])


# --------------------------------------------------------------------------------------------------


def test_installed_files_are_where_the_manager_looks(svc: Installed) -> None:
    m = svc.manager
    fragment = svc.service("FragmentPath", "ExecStart")
    assert fragment["FragmentPath"] == f"{svc.unitdir}/gigachatd.service", fragment
    assert f"path={svc.bindir}/gigachatd " in fragment["ExecStart"], fragment
    for name in ("gigachatd", "gigachatctl"):
        assert m.path(f"{svc.bindir}/{name}").is_file()
    assert m.path(f"{svc.unitdir}/{DROPIN}").is_file()
    assert svc.manager.run("systemctl", "--user", "is-enabled", "gigachatd.socket").stdout.strip() == "enabled"
    share = f"{m.home}/.local/share" if svc.method == "make-install" else "/usr/share"
    zsh = "zsh/site-functions" if svc.method == "make-install" else "zsh/vendor-completions"
    for completion in ("bash-completion/completions/gigachatctl", f"{zsh}/_gigachatctl",
                       "fish/vendor_completions.d/gigachatctl.fish"):
        assert m.path(f"{share}/{completion}").is_file(), completion
    suffix = ".gz" if svc.method == "deb" else ""
    for page in ("man1/gigachatctl.1", "man8/gigachatd.8"):
        assert m.path(f"{share}/man/{page}{suffix}").is_file(), page
    if svc.method == "deb":
        listed = m.run("dpkg", "-L", "gigachatd", root=True, check=True).stdout.split()
        for path in ("/usr/share/doc/gigachatd/copyright", "/usr/share/doc/gigachatd/SYSTEMD.md",
                     "/usr/share/doc/gigachatd/changelog.gz"):
            assert path in listed, path
    # The drop-in beside the units is not a unit: the manager neither loads nor complains about it.
    journal = m.run("journalctl", "--user", "--no-pager", "-o", "cat", check=True).stdout
    assert DROPIN not in journal, journal[-2000:]
    assert DROPIN not in m.systemctl("status", "gigachatd.service", check=False).stdout
    assert _exposure(svc) <= 2.5  # 2.1 with systemd 252


def test_first_connection_starts_the_service_and_status_shows_its_state(svc: Installed) -> None:
    m, fake = svc.manager, svc.fake
    result = svc.chat("hi")
    assert result.returncode == 0 and result.stdout.strip() == "Echo: hi", result
    state = svc.service("ActiveState", "SubState", "TriggeredBy")
    assert state["ActiveState"] == "active" and state["SubState"] == "running", state
    assert "gigachatd.socket" in state["TriggeredBy"], state
    assert [r.header("Authorization") for r in fake.state.oauth_calls] == [f"Basic {fake.settings.key}"]
    # STATUS= as `systemctl --user status` shows it; the daemon updates it within 5 s of a change.
    m.wait_for("the status line counts the request", lambda: "1 served" in _status_line(svc), 15)
    status = m.status("gigachatd.service")
    assert 'Status: "token valid until ' in status and "1 served" in status, status
    assert "gigachatd ready" in status, status  # the journal's lines, readable by the user


def test_reload_switches_to_a_replaced_key(svc: Installed) -> None:
    m, fake = svc.manager, svc.fake
    assert svc.chat("before").returncode == 0
    pid = svc.main_pid()
    old_key, new_key = fake.settings.key, make_test_key()
    svc.write_credentials(new_key)
    # From now on the fake accepts only the new key, and no token issued for the old one.
    fake.settings.key = new_key
    fake.revoke_tokens()
    oauth_before = len(fake.state.oauth_calls)
    m.systemctl("reload", "gigachatd.service")
    assert fake.wait_for(lambda st: any(r.status == 200 for r in st.oauth_calls[oauth_before:]), 15), \
        m.status("gigachatd.service")
    new_calls = fake.state.oauth_calls[oauth_before:]
    assert [r.header("Authorization") for r in new_calls] == [f"Basic {new_key}"], [r.status for r in new_calls]
    result = svc.chat("after")
    assert result.returncode == 0 and result.stdout.strip() == "Echo: after", result
    assert svc.main_pid() == pid, "reload restarted the daemon"
    m.wait_for("the status line settles", lambda: "2 served" in _status_line(svc), 15)
    assert "last reload failed" not in _status_line(svc)
    assert old_key != new_key


def test_stop_during_a_stream_lets_it_finish(svc: Installed) -> None:
    m, fake = svc.manager, svc.fake
    fake.configure(chunks=8, chunk_interval=0.4)  # about 3 s of streaming
    prompt = "a reply long enough to stream in eight pieces"
    expected = f"Echo: {prompt}"
    client = m.popen(svc.ctl, "chat", prompt)  # a pipe gets the reply's text as it arrives
    received = bytearray()
    first = threading.Event()

    def read() -> None:
        assert client.stdout is not None
        while chunk := client.stdout.read1(65536):
            received.extend(chunk)
            first.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert first.wait(20), m.status("gigachatd.service")
        streamed_before_stop = len(received)
        started = time.monotonic()
        stopped = m.systemctl("stop", "gigachatd.service", timeout=60)
        took = time.monotonic() - started
        assert client.wait(20) == 0, client.stderr.read() if client.stderr else ""
    finally:
        if client.poll() is None:
            client.kill()
        client.wait(5)
        reader.join(5)
    assert streamed_before_stop < len(expected.encode()), "the reply was complete before the stop"
    assert received.decode().strip() == expected, bytes(received)
    assert 0.5 < took < 45, (took, stopped.stderr)  # stop waited for the stream, within TimeoutStopSec=
    state = svc.service("ActiveState", "Result", "ExecMainStatus")
    assert state == {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}, state
    # The socket stayed with the manager: the next connection starts the daemon again.
    result = svc.chat("again")
    assert result.returncode == 0 and result.stdout.strip() == "Echo: again", result


def test_credentials_readable_by_others_fail_with_78_and_say_why(svc: Installed) -> None:
    m, fake = svc.manager, svc.fake
    svc.write_credentials(fake.settings.key, mode="644")
    credentials = f"{m.home}/.config/gigachat/credentials"
    started = time.monotonic()
    result = svc.chat("hi", timeout=90)
    took = time.monotonic() - started
    assert result.returncode != 0, result
    assert took < 30, f"gigachatctl took {took:.1f}s to fail"
    m.wait_for("the service fails", lambda: svc.service("ActiveState")["ActiveState"] == "failed", 30)
    state = svc.service("ExecMainStatus", "NRestarts")
    assert state["ExecMainStatus"] == "78", state
    assert state["NRestarts"] == "0", state  # RestartPreventExitStatus=78: restarting cannot fix a mode
    status = m.status("gigachatd.service")
    assert "status=78" in status and f"chmod 600 {credentials}" in status, status
    assert not fake.state.oauth_calls, "the key was sent although the file was readable by others"

    # The fix the message names, then the recovery docs/SYSTEMD.md gives.
    m.run("chmod", "600", credentials, check=True)
    m.systemctl("reset-failed", "gigachatd.socket", "gigachatd.service")
    m.systemctl("restart", "gigachatd.socket")
    result = svc.chat("fixed")
    assert result.returncode == 0 and result.stdout.strip() == "Echo: fixed", result


def test_start_limit_stops_a_service_that_cannot_start(svc: Installed) -> None:
    m = svc.manager
    # What a kernel without unprivileged user namespaces does to the sandbox: 226/NAMESPACE at each start.
    m.run("rmdir", "/run/systemd/unit-root", root=True, check=True)
    started = time.monotonic()
    result = svc.chat("hi", timeout=120)
    took = time.monotonic() - started
    assert result.returncode != 0, result
    assert took < 45, f"gigachatctl took {took:.1f}s to fail"
    m.wait_for("the start limit is hit",
               lambda: svc.socket("Result")["Result"] == "service-start-limit-hit", 30)
    socket = svc.socket("ActiveState", "Result")
    assert socket == {"ActiveState": "failed", "Result": "service-start-limit-hit"}, socket
    service = svc.service("ActiveState", "ExecMainStatus", "NRestarts")
    assert service["ActiveState"] == "failed" and service["ExecMainStatus"] == "226", service
    assert int(service["NRestarts"]) <= 5, service  # StartLimitBurst=5 within StartLimitIntervalSec=60
    assert "Start request repeated too quickly" in m.status("gigachatd.service")
    # It stays stopped: no more attempts, and clients are refused at once instead of waiting.
    time.sleep(3)
    assert svc.service("NRestarts", "ActiveState") == {"NRestarts": service["NRestarts"], "ActiveState": "failed"}
    started = time.monotonic()
    refused = svc.chat("still there?", timeout=30)
    assert refused.returncode != 0 and time.monotonic() - started < 5, refused
    assert "226/NAMESPACE" in m.status("gigachatd.service")

    # Recovery as docs/SYSTEMD.md gives it, once the cause is gone.
    m.run("install", "-d", "-m", "0700", "/run/systemd/unit-root", root=True, check=True)
    m.systemctl("reset-failed", "gigachatd.socket", "gigachatd.service")
    m.systemctl("restart", "gigachatd.socket")
    result = svc.chat("back")
    assert result.returncode == 0 and result.stdout.strip() == "Echo: back", result

    # Starts asked for by hand count toward the same limit.
    refused_restart = None
    for attempt in range(6):
        restart = m.systemctl("restart", "gigachatd.service", check=False)
        if restart.returncode != 0:
            refused_restart = (attempt, restart.stderr)
            break
    assert refused_restart is not None and "attempted too often" in refused_restart[1], refused_restart
    m.systemctl("reset-failed", "gigachatd.socket", "gigachatd.service")
    m.systemctl("restart", "gigachatd.socket")
    assert svc.chat("and back").returncode == 0


def test_fallback_drop_in_starts_where_namespaces_cannot_be_had(svc: Installed) -> None:
    m = svc.manager
    m.run("rmdir", "/run/systemd/unit-root", root=True, check=True)
    m.systemctl("start", "gigachatd.service", check=False)
    m.wait_for("the stock unit fails with 226/NAMESPACE",
               lambda: svc.service("ExecMainStatus")["ExecMainStatus"] == "226", 15)
    m.systemctl("stop", "gigachatd.service")

    # As docs/SYSTEMD.md says: link the shipped drop-in, reload the units, start again.
    dropins = f"{m.home}/.config/systemd/user/gigachatd.service.d"
    m.run("mkdir", "-p", dropins, check=True)
    m.run("ln", "-s", f"{svc.unitdir}/{DROPIN}", f"{dropins}/", check=True)
    m.systemctl("daemon-reload")
    m.systemctl("reset-failed", "gigachatd.socket", "gigachatd.service")
    m.systemctl("restart", "gigachatd.socket")
    result = svc.chat("no namespaces")
    assert result.returncode == 0 and result.stdout.strip() == "Echo: no namespaces", result
    assert DROPIN in m.status("gigachatd.service")

    # No namespace of its own, but the settings that need none are in force.
    pid = svc.main_pid()
    proc = svc.proc(pid)
    for ns in ("user", "mnt"):
        assert os.readlink(proc / "ns" / ns) == os.readlink(m.path("/proc/1/ns") / ns), ns
    status = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line)
    assert status["NoNewPrivs"].strip() == "1", status["NoNewPrivs"]
    assert status["Seccomp"].strip() == "2", status["Seccomp"]  # SystemCallFilter= and the Restrict*= filters
    shown = svc.service("PrivateUsers", "RestrictNamespaces", "MemoryDenyWriteExecute", "NoNewPrivileges",
                        "StateDirectory", "UMask")
    assert shown["PrivateUsers"] == "no" and shown["NoNewPrivileges"] == "yes", shown
    assert shown["MemoryDenyWriteExecute"] == "yes" and shown["RestrictNamespaces"] == "yes", shown
    assert shown["StateDirectory"] == "gigachat" and shown["UMask"] == "0077", shown
    assert (m.path(_state_directory(svc, pid)).stat().st_mode & 0o777) == 0o700
    assert _exposure(svc) <= 7.0  # 6.6 with systemd 252: the seccomp and no-new-privileges half


def _state_directory(inst: Installed, pid: int) -> str:
    environ = (inst.proc(pid) / "environ").read_bytes().split(b"\0")
    values = [v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"STATE_DIRECTORY=")]
    assert len(values) == 1, "StateDirectory= gave the daemon no $STATE_DIRECTORY"
    return values[0]


def test_conversations_are_kept_where_the_sandbox_lets_the_daemon_write(svc: Installed) -> None:
    m = svc.manager
    first = svc.chat("-c", "work", "one")
    assert first.returncode == 0 and first.stdout.strip() == "Echo: one", first
    state = _state_directory(svc, svc.main_pid())
    # systemd 252 puts a user unit's StateDirectory= under $XDG_CONFIG_HOME, later versions under
    # $XDG_STATE_HOME; ProtectHome=read-only leaves only that one writable.
    assert state in (f"{m.home}/.config/gigachat", f"{m.home}/.local/state/gigachat"), state
    stored = m.path(f"{state}/conversations/work.json")
    assert stored.is_file() and stored.stat().st_mode & 0o777 == 0o600
    m.systemctl("restart", "gigachatd.service")
    second = svc.chat("-c", "work", "two")
    assert second.returncode == 0 and second.stdout.strip() == "Echo: two", second
    kept = json.loads(stored.read_text())
    assert "one" in json.dumps(kept, ensure_ascii=False) and "two" in json.dumps(kept, ensure_ascii=False), kept


def test_nothing_secret_reaches_the_journal(installed: Installed) -> None:
    m = installed.manager
    installed.secrets.update(installed.fake.secrets())
    user = m.run("journalctl", "--user", "--no-pager", "-o", "export", check=True).stdout
    system = m.run("journalctl", "--no-pager", "-o", "export", root=True, check=True).stdout
    assert "gigachatd" in user
    leaks = find_secrets({"user journal": user.encode(), "system journal": system.encode()}, installed.secrets)
    assert not leaks, leaks


# --------------------------------------------------------------------------------------------------
# Clean-up when the test process is killed


KILLED_CHILD = r'''
import sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from user_manager import UserManager
m = UserManager(Path(sys.argv[2])).start()
print(m.cgroup, m.pid, flush=True)
time.sleep(600)
'''


def test_a_killed_test_leaves_nothing_behind(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, str(Path(__file__).parent), str(tmp_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cgroup: Optional[Path] = None
    try:
        assert child.stdout is not None
        line = child.stdout.readline().split()
        assert len(line) == 2, (line, child.stderr.read() if child.poll() is not None and child.stderr else "")
        cgroup, pid = Path(line[0]), int(line[1])
        assert cgroup.is_dir() and Path(f"/proc/{pid}").exists()
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 20
        while (cgroup.exists() or Path(f"/proc/{pid}").exists()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not Path(f"/proc/{pid}").exists(), "the namespace outlived the killed test"
        assert not cgroup.exists(), f"{cgroup} outlived the killed test"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(5)
        if cgroup is not None and cgroup.exists():
            remove_cgroup(cgroup)
