"""Where the socket lives and who may use it, configuration sources and their precedence, and
shutdown.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
from pathlib import Path

from fake_gigachat import FakeGigaChat
from harness import DaemonFactory, TestEnv


def test_socket_directory_is_private_and_socket_is_owner_only(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    dir_stat = os.stat(d.socket_path.parent)
    sock_stat = os.stat(d.socket_path)
    assert stat.S_ISSOCK(sock_stat.st_mode)
    assert stat.S_IMODE(dir_stat.st_mode) == 0o700, oct(dir_stat.st_mode)
    assert stat.S_IMODE(sock_stat.st_mode) == 0o600, oct(sock_stat.st_mode)
    assert dir_stat.st_uid == os.getuid() and sock_stat.st_uid == os.getuid()


def test_default_socket_is_in_xdg_runtime_dir(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    d = daemon(socket=None)  # no --socket, no GIGACHATD_SOCKET
    assert d.socket_path == testenv.default_socket
    assert d.chat("hi", stream=False).ok


def test_gigachatd_socket_environment_and_flag_precedence(
    fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv
) -> None:
    from_env = testenv.runtime / "env" / "d.sock"
    d = daemon(socket=None, env={"GIGACHATD_SOCKET": str(from_env)})
    assert d.socket_path == from_env
    assert d.chat("hi", stream=False).ok
    d.stop()

    from_flag = testenv.runtime / "flag" / "d.sock"
    other = testenv.runtime / "env2" / "d.sock"
    d = daemon(socket=from_flag, env={"GIGACHATD_SOCKET": str(other)})
    assert d.chat("hi", stream=False).ok
    assert not other.exists(), "--socket must beat GIGACHATD_SOCKET"


def test_stale_socket_is_replaced(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    path = testenv.default_socket
    path.parent.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # a socket file nobody listens on, as a crashed daemon leaves behind
    stale.close()
    d = daemon()
    assert d.chat("hi", stream=False).ok


def test_live_daemon_is_not_replaced(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    first = daemon()
    second = daemon(wait=False)
    rc = second.wait_exit(10)
    assert rc != 0
    assert str(first.socket_path) in second.stderr(), second.diagnostics()
    assert first.running
    assert first.chat("первый всё ещё работает", stream=False).ok


def test_socket_directory_writable_by_others_is_refused(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    shared = testenv.default_socket.parent
    shared.mkdir()
    shared.chmod(0o777)
    d = daemon(wait=False)
    assert d.wait_exit(10) != 0
    assert str(shared) in d.stderr(), d.diagnostics()
    assert not testenv.default_socket.exists()


def write_conf(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_default_config_file_is_read(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    write_conf(testenv.config / "gigachat" / "gigachatd.conf", (
        "# gigachatd settings (EnvironmentFile syntax)\n"
        f"GIGACHAT_CREDENTIALS={fake_api.settings.key}\n"
        "\n"
        'GIGACHAT_MODEL="GigaChat-2-Max"\n'
    ))
    d = daemon(credentials=False)
    assert d.chat("из файла", stream=False).ok
    assert fake_api.state.oauth_calls[0].header("Authorization") == f"Basic {fake_api.settings.key}"
    assert fake_api.state.chat_requests[-1].json["model"] == "GigaChat-2-Max"


def test_environment_beats_config_file(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    conf = write_conf(testenv.root / "elsewhere.conf", (
        f"GIGACHAT_CREDENTIALS={fake_api.settings.key}\n"
        "GIGACHAT_MODEL=GigaChat-2-Max\n"
    ))
    d = daemon(credentials=False, model="GigaChat-2-Pro", args=["--config", str(conf)])
    assert d.chat("кто главнее", stream=False).ok
    assert fake_api.state.chat_requests[-1].json["model"] == "GigaChat-2-Pro"


def test_sigterm_stops_the_daemon(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    assert d.chat("hi", stream=False).ok
    d.signal(signal.SIGTERM)
    d.wait_exit(5)  # raises if it is still running
