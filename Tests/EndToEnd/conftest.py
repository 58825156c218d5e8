"""Fixtures for the end-to-end tests: test PKI, the fake GigaChat API, gigachatd, gigachatctl.

Typical test::

    def test_something(fake_api, daemon):
        d = daemon()                      # gigachatd pointed at fake_api, socket accepting
        with d.connect() as conn:
            out = conn.chat("Привет")     # ChatOutcome: notifications + final response
        assert out.content == "Echo: Привет"
        assert len(fake_api.state.oauth_calls) == 1

Binaries come from $GIGACHATD_BIN / $GIGACHATCTL_BIN or <repo>/.build/debug/. A missing binary fails
the test with a message saying to run `swift build`; nothing is skipped silently.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from fake_gigachat import FakeGigaChat
from harness import (
    BinaryMissing,
    CtlResult,
    Daemon,
    DaemonFactory,
    RpcConnection,
    TestEnv,
    find_binary,
    find_secrets,
    merge_env,
    run_ctl as _run_ctl,
)
from pki import TestPKI, make_test_pki

# Per-test wall-clock limit: a hung daemon must fail one test, not stall the whole run.
TEST_TIMEOUT = float(os.environ.get("E2E_TEST_TIMEOUT", "60"))

# Defaults every daemon gets unless a test overrides them: short upstream timeouts so that a
# broken daemon fails fast instead of waiting out the SDK's 30 s.
DAEMON_DEFAULT_ENV = {
    "GIGACHAT_TIMEOUT": "5",
}


@pytest.fixture(autouse=True)
def _watchdog(request: pytest.FixtureRequest) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"test exceeded {TEST_TIMEOUT:.0f}s (E2E_TEST_TIMEOUT)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def fake_api(pki: TestPKI) -> Iterator[FakeGigaChat]:
    """The fake GigaChat API, in this process, on a free port; OAuth and API share the port."""
    fake = FakeGigaChat(pki).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def testenv(tmp_path: Path) -> Iterator[TestEnv]:
    """HOME, XDG_RUNTIME_DIR, XDG_CONFIG_HOME and XDG_STATE_HOME of this test's processes."""
    env = TestEnv.create(tmp_path)
    yield env
    if not env.runtime.is_relative_to(tmp_path):  # the short fallback made for long tmp paths
        shutil.rmtree(env.runtime, ignore_errors=True)


@pytest.fixture(scope="session")
def gigachatd_bin() -> Path:
    try:
        return find_binary("gigachatd", "GIGACHATD_BIN")
    except BinaryMissing as e:
        message = str(e)
    pytest.fail(message, pytrace=False)  # outside the except: no chained traceback


@pytest.fixture(scope="session")
def gigachatctl_bin() -> Path:
    try:
        return find_binary("gigachatctl", "GIGACHATCTL_BIN")
    except BinaryMissing as e:
        message = str(e)
    pytest.fail(message, pytrace=False)  # outside the except: no chained traceback


@pytest.fixture
def daemon(
    request: pytest.FixtureRequest, gigachatd_bin: Path, testenv: TestEnv, pki: TestPKI
) -> Iterator[DaemonFactory]:
    """Factory: ``daemon(**options)`` starts gigachatd and waits until its socket accepts.

    Options:
      fake: the FakeGigaChat to point at (default: the ``fake_api`` fixture);
      env: overrides for the environment (a value of None removes the variable);
      args: extra command-line arguments; log_level: passed as --log-level;
      socket: socket path (default $XDG_RUNTIME_DIR/gigachat/gigachatd.sock), passed as --socket,
              or None to pass no --socket at all (the daemon resolves the path itself);
      scope, model: GIGACHAT_SCOPE (default: the fake's) and GIGACHAT_MODEL (default: unset);
      credentials: False to leave GIGACHAT_CREDENTIALS unset;
      wait: False to return right after spawning (for daemons expected to fail);
      scan_secrets: False to skip the secret scan at teardown (default: on).

    At teardown every daemon gets SIGTERM, and everything it wrote to stderr/stdout and sent on any
    socket, plus everything gigachatctl printed, is scanned for the fake's secrets.
    """
    started: list[tuple[Daemon, bool]] = []
    default_socket = object()

    def start(
        *,
        fake: Optional[FakeGigaChat] = None,
        env: Optional[dict[str, Optional[str]]] = None,
        args: tuple[str, ...] | list[str] = (),
        log_level: Optional[str] = None,
        socket: Any = default_socket,
        scope: Optional[str] = None,
        model: Optional[str] = None,
        credentials: bool = True,
        wait: bool = True,
        scan_secrets: bool = True,
    ) -> Daemon:
        fake = fake if fake is not None else request.getfixturevalue("fake_api")
        assert fake is not None
        base = testenv.base()
        base.update(DAEMON_DEFAULT_ENV)
        base.update({
            "GIGACHAT_AUTH_URL": fake.auth_url,
            "GIGACHAT_BASE_URL": fake.base_url,
            "GIGACHAT_CA_BUNDLE_FILE": str(pki.ca_cert),
            "GIGACHAT_SCOPE": scope or fake.settings.scope,
        })
        if credentials:
            base["GIGACHAT_CREDENTIALS"] = fake.settings.key
        if model is not None:
            base["GIGACHAT_MODEL"] = model
        full_env = merge_env(base, env)

        argv: list[str] = []
        if socket is default_socket:
            socket_path = testenv.default_socket
            argv += ["--socket", str(socket_path)]
        elif socket is None:
            socket_path = Path(full_env.get("GIGACHATD_SOCKET") or testenv.default_socket)
        else:
            socket_path = Path(socket)
            argv += ["--socket", str(socket_path)]
        if log_level:
            argv += ["--log-level", log_level]
        argv += list(args)

        extra_secrets = [full_env.get(k, "") for k in ("GIGACHAT_PASSWORD", "GIGACHAT_ACCESS_TOKEN", "GIGACHAT_CREDENTIALS")]
        d = Daemon(gigachatd_bin, testenv, full_env, socket_path, argv, secrets=extra_secrets, fake=fake)
        started.append((d, scan_secrets))
        d.start()
        if wait:
            d.wait_ready()
        return d

    yield start

    leaks = []
    for d, scan in started:
        d.stop()
        if scan:
            leaks += [f"gigachatd pid {d.proc.pid if d.proc else '?'}: {leak}" for leak in d.leaked_secrets()]
            ctl_out = {"gigachatctl output": b"".join(testenv.outputs)}
            leaks += find_secrets(ctl_out, d.secrets())
    if leaks:
        pytest.fail("secrets leaked:\n  " + "\n  ".join(sorted(set(leaks))), pytrace=False)


@pytest.fixture
def rpc(daemon: DaemonFactory) -> Callable[..., RpcConnection]:
    """``rpc(d)`` opens a client connection to daemon ``d`` (closed at teardown)."""

    def connect(d: Daemon, timeout: Optional[float] = None) -> RpcConnection:
        return d.connect() if timeout is None else d.connect(timeout)

    return connect


@pytest.fixture
def run_ctl(gigachatctl_bin: Path, testenv: TestEnv) -> Callable[..., CtlResult]:
    """``run_ctl(*args, input=None, env=None, timeout=20)`` runs gigachatctl in the test's environment.

    The environment has the same XDG_RUNTIME_DIR as the daemons, so without --socket gigachatctl
    finds the default daemon; ``env`` overrides variables (None removes one).
    """

    def run(*args: str, input: Optional[str | bytes] = None, env: Optional[dict[str, Optional[str]]] = None,
            timeout: float = 20.0) -> CtlResult:
        return _run_ctl(gigachatctl_bin, testenv, *args, input=input, env=env, timeout=timeout)

    return run


@pytest.fixture
def ctl_popen(gigachatctl_bin: Path, testenv: TestEnv) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``ctl_popen(*args, env=None)``: gigachatctl with piped stdout/stderr, to watch it stream."""
    procs: list[subprocess.Popen[bytes]] = []

    def popen(*args: str, env: Optional[dict[str, Optional[str]]] = None) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            [str(gigachatctl_bin), *args], env=merge_env(testenv.base(), env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=testenv.root,
        )
        procs.append(p)
        return p

    yield popen
    for p in procs:
        if p.poll() is None:
            p.kill()
        out, err = p.communicate(timeout=5)
        testenv.outputs.extend([out or b"", err or b""])
