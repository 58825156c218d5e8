"""Driving the real gigachatd and gigachatctl binaries from pytest.

The pieces here know nothing about pytest fixtures (conftest.py wires them up): where the binaries
are, a clean environment per test, a daemon process with its stderr kept for inspection, a JSON-RPC
client for the daemon's Unix socket that reads what a script would read, and a scan for secrets in
everything the daemon ever said.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_TIMEOUT = 10.0  # seconds to wait for any single reply from the daemon
START_TIMEOUT = 10.0  # seconds for the daemon's socket to start accepting
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL

# A Unix socket path must fit in sun_path (108 bytes on Linux, including the NUL).
_MAX_SOCKET_PATH = 100

_AUTO = object()


class BinaryMissing(Exception):
    pass


def find_binary(name: str, env_var: str) -> Path:
    """$env_var if set, else <repo>/.build/debug/<name>; BinaryMissing with advice otherwise."""
    override = os.environ.get(env_var)
    path = Path(override) if override else REPO_ROOT / ".build" / "debug" / name
    if not path.is_file() or not os.access(path, os.X_OK):
        how = f"${env_var}={override}" if override else f"{path}"
        raise BinaryMissing(
            f"{name} not found or not executable at {how}. Build it first with `swift build` in "
            f"{REPO_ROOT} (or point {env_var} at a built binary)."
        )
    return path


# --------------------------------------------------------------------------------------------------
# Per-test environment


@dataclass
class TestEnv:
    """The directories a test's processes see as home, runtime, config and state."""

    __test__ = False

    root: Path
    home: Path
    runtime: Path  # XDG_RUNTIME_DIR; the default socket is runtime/gigachat/gigachatd.sock
    config: Path  # XDG_CONFIG_HOME
    state: Path  # XDG_STATE_HOME
    outputs: list[bytes] = field(default_factory=list)  # everything gigachatctl printed, for secret scans

    @classmethod
    def create(cls, root: Path) -> "TestEnv":
        runtime = root / "run"
        if len(str(runtime / "gigachat" / "gigachatd.sock")) > _MAX_SOCKET_PATH:
            # pytest's tmp_path can be long; a socket path must stay under ~108 bytes.
            runtime = Path(tempfile.mkdtemp(prefix="gcd-run-"))
        env = cls(root=root, home=root / "home", runtime=runtime, config=root / "config", state=root / "state")
        for d in (env.home, env.runtime, env.config, env.state):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o700)  # like a real XDG_RUNTIME_DIR; the daemon refuses group/world-writable dirs
        return env

    @property
    def default_socket(self) -> Path:
        return self.runtime / "gigachat" / "gigachatd.sock"

    def base(self) -> dict[str, str]:
        """A clean environment: nothing of the developer's GIGACHAT_* or XDG_* leaks in."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.runtime),
            "XDG_CONFIG_HOME": str(self.config),
            "XDG_STATE_HOME": str(self.state),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
        for passthrough in ("LD_LIBRARY_PATH", "SWIFT_BACKTRACE"):
            if passthrough in os.environ:
                env[passthrough] = os.environ[passthrough]
        return env


def merge_env(base: dict[str, str], overrides: Optional[dict[str, Optional[str]]]) -> dict[str, str]:
    """base updated by overrides; an override of None removes the variable."""
    env = dict(base)
    for k, v in (overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


# --------------------------------------------------------------------------------------------------
# JSON-RPC over the Unix socket


class Transcript:
    """Every byte the daemon sent on any connection (thread-safe), for secret scans."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data = bytearray()

    def add(self, data: bytes) -> None:
        with self._lock:
            self._data += data

    def bytes(self) -> bytes:
        with self._lock:
            return bytes(self._data)


def same_id(a: Any, b: Any) -> bool:
    """JSON-RPC ids match by type and value (1 is not "1", and True is not 1)."""
    return type(a) is type(b) and a == b


@dataclass
class ChatOutcome:
    """What a client got for one chat request: the notifications for its id and the final message."""

    notifications: list[dict[str, Any]]
    final: dict[str, Any]
    elapsed: float = 0.0
    first_delta_at: Optional[float] = None  # seconds after sending, when the first delta arrived
    queued: list[dict[str, Any]] = field(default_factory=list)  # request.queued acknowledgements

    def __iter__(self):  # allows `notifications, final = outcome`
        return iter((self.notifications, self.final))

    @property
    def deltas(self) -> list[str]:
        return [n["params"]["content"] for n in self.notifications if n.get("method") == "chat.delta"]

    @property
    def delta_text(self) -> str:
        return "".join(self.deltas)

    @property
    def result(self) -> dict[str, Any]:
        assert "result" in self.final, f"expected a result, got {self.final}"
        return self.final["result"]

    @property
    def error(self) -> dict[str, Any]:
        assert "error" in self.final, f"expected an error, got {self.final}"
        return self.final["error"]

    @property
    def ok(self) -> bool:
        return "result" in self.final

    @property
    def content(self) -> str:
        return self.result["choices"][0]["message"]["content"]


class RpcConnection:
    """One client connection to the daemon: newline-delimited JSON, read with deadlines.

    Messages that belong to other request ids are kept aside, so several requests can be in flight
    on one connection and collected in any order.
    """

    def __init__(
        self,
        path: os.PathLike[str] | str,
        *,
        transcript: Optional[Transcript] = None,
        timeout: float = DEFAULT_TIMEOUT,
        diagnostics: Optional[Callable[[], str]] = None,
    ) -> None:
        self.path = str(path)
        self.timeout = timeout
        self.transcript = transcript
        self.diagnostics = diagnostics
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)
        self._buf = bytearray()
        self._pending: list[dict[str, Any]] = []
        self._eof = False
        self._ids = itertools.count(1)
        self.received: list[dict[str, Any]] = []  # every message read, in order

    # -- plumbing
    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RpcConnection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def send(self, msg: Any) -> None:
        """Send a message: dict/list -> one JSON line; bytes/str -> exactly those bytes."""
        if isinstance(msg, (bytes, bytearray)):
            data = bytes(msg)
        elif isinstance(msg, str):
            data = msg.encode()
        else:
            data = json.dumps(msg, ensure_ascii=False).encode() + b"\n"
        self.sock.sendall(data)

    def send_line(self, raw: bytes | str) -> None:
        """Send raw bytes followed by a newline."""
        self.send((raw.encode() if isinstance(raw, str) else bytes(raw)) + b"\n")

    def _fail_timeout(self, what: str, timeout: float) -> None:
        extra = self.diagnostics() if self.diagnostics else ""
        raise TimeoutError(
            f"no {what} from the daemon within {timeout:.1f}s on {self.path}; "
            f"unconsumed messages: {self._pending!r}; buffered bytes: {bytes(self._buf[:500])!r}{extra}"
        )

    def read_line(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """The next line without its newline, or None at end of stream."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                return line
            if self._eof:
                if self._buf:  # a last line without newline still counts
                    line = bytes(self._buf)
                    self._buf.clear()
                    return line
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail_timeout("line", timeout)
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if self.transcript is not None and chunk:
                self.transcript.add(chunk)
            if not chunk:
                self._eof = True
            self._buf += chunk

    def read_message(self, timeout: Optional[float] = None) -> Optional[dict[str, Any]]:
        """The next message (set-aside ones first), parsed; None at end of stream."""
        if self._pending:
            return self._pending.pop(0)
        line = self.read_line(timeout)
        if line is None:
            return None
        try:
            msg = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"daemon sent a line that is not JSON: {line[:300]!r}") from e
        assert isinstance(msg, dict), f"daemon sent JSON that is not an object: {line[:300]!r}"
        self.received.append(msg)
        return msg

    # -- JSON-RPC
    def request(
        self, method: str, params: Any = None, *, id: Any = _AUTO, jsonrpc: bool = True
    ) -> Any:
        """Send a request and return its id (id=None sends a notification: no "id" member)."""
        msg: dict[str, Any] = {"jsonrpc": "2.0"} if jsonrpc else {}
        if id is _AUTO:
            id = next(self._ids)
        if id is not None:
            msg["id"] = id
        msg["method"] = method
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return id

    def collect(self, id: Any, timeout: Optional[float] = None) -> ChatOutcome:
        """Read until the final response for ``id``; its notifications come along."""
        timeout = self.timeout if timeout is None else timeout
        start = time.monotonic()
        deadline = start + timeout
        notifications: list[dict[str, Any]] = []
        queued: list[dict[str, Any]] = []
        first_delta = None
        kept: list[dict[str, Any]] = []
        # Look at what was set aside earlier first, in order.
        backlog, self._pending = self._pending, []
        try:
            while True:
                if backlog:
                    msg = backlog.pop(0)
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._pending = kept + self._pending
                        kept = []
                        self._fail_timeout(f"final response for id {id!r}", timeout)
                    msg = self.read_message(remaining)
                    if msg is None:
                        raise AssertionError(
                            f"daemon closed the connection before answering id {id!r}; "
                            f"notifications so far: {notifications!r}"
                            + (self.diagnostics() if self.diagnostics else "")
                        )
                if "id" in msg and "method" not in msg:
                    if same_id(msg["id"], id):
                        self._pending = kept + backlog + self._pending
                        kept, backlog = [], []
                        return ChatOutcome(notifications, msg, time.monotonic() - start, first_delta, queued)
                    kept.append(msg)
                elif msg.get("method") == "request.queued" and same_id(msg["params"].get("id"), id):
                    queued.append(msg)  # the daemon saying it is alive while the request waits its turn
                elif isinstance(msg.get("params"), dict) and same_id(msg["params"].get("id"), id):
                    if first_delta is None:
                        first_delta = time.monotonic() - start
                    notifications.append(msg)
                else:
                    kept.append(msg)
        finally:
            if kept or backlog:
                self._pending = kept + backlog + self._pending

    def call(
        self, method: str, params: Any = None, *, id: Any = _AUTO, timeout: Optional[float] = None,
        jsonrpc: bool = True,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Send a request and wait for its final response: (notifications, final)."""
        rid = self.request(method, params, id=id, jsonrpc=jsonrpc)
        outcome = self.collect(rid, timeout)
        return outcome.notifications, outcome.final

    def chat(
        self, prompt: str | list[dict[str, Any]], *, stream: bool = True, id: Any = _AUTO,
        timeout: Optional[float] = None, **params: Any,
    ) -> ChatOutcome:
        """A chat request with a user prompt (or a full message list) and extra params."""
        rid = self.request("chat", chat_params(prompt, stream=stream, **params), id=id)
        return self.collect(rid, timeout)

    def expect_eof(self, timeout: Optional[float] = None) -> list[dict[str, Any]]:
        """Read until the daemon closes the connection; return the messages read meanwhile."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail_timeout("end of stream", timeout)
            msg = self.read_message(remaining)
            if msg is None:
                return seen
            seen.append(msg)

    def expect_silence(self, duration: float) -> list[dict[str, Any]]:
        """Read for ``duration`` seconds; return whatever arrived (a test usually wants [])."""
        deadline = time.monotonic() + duration
        seen = list(self._pending)
        self._pending.clear()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return seen
            try:
                msg = self.read_message(remaining)
            except TimeoutError:
                return seen
            if msg is None:
                return seen
            seen.append(msg)


def chat_params(prompt: str | list[dict[str, Any]], *, stream: bool = True, **params: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    out: dict[str, Any] = {"messages": messages, "stream": stream}
    out.update(params)
    return out


# --------------------------------------------------------------------------------------------------
# The daemon process


DaemonFactory = Callable[..., "Daemon"]  # the type of the ``daemon`` fixture


class Daemon:
    """One gigachatd process. Its stdout/stderr go to files next to the test's other data."""

    _counter = itertools.count(1)

    def __init__(
        self, binary: Path, testenv: TestEnv, env: dict[str, str], socket_path: Path, args: Sequence[str] = (),
        *, secrets: Iterable[str] = (), fake: Any = None,
    ) -> None:
        n = next(self._counter)
        self.binary = binary
        self.testenv = testenv
        self.env = env
        self.socket_path = socket_path
        self.argv = [str(binary), *args]
        self.fake = fake
        self.extra_secrets = [s for s in secrets if s]
        self.transcript = Transcript()
        self.stdout_path = testenv.root / f"gigachatd-{n}.stdout"
        self.stderr_path = testenv.root / f"gigachatd-{n}.stderr"
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.connections: list[RpcConnection] = []

    # -- lifecycle
    def start(self) -> "Daemon":
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                cwd=self.testenv.root, start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> "Daemon":
        """Wait until the socket accepts a connection; on failure, say why with the daemon's stderr."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last_error: Optional[Exception] = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"gigachatd exited with status {self.proc.returncode} before its socket "
                    f"{self.socket_path} accepted a connection.{self.diagnostics()}"
                )
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(str(self.socket_path))
                return self
            except OSError as e:
                last_error = e
            finally:
                s.close()
            time.sleep(0.02)
        raise AssertionError(
            f"gigachatd's socket {self.socket_path} did not accept a connection within {timeout}s "
            f"(last error: {last_error}).{self.diagnostics()}"
        )

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit status."""
        for conn in self.connections:
            conn.close()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    # -- output
    def stderr(self) -> str:
        try:
            return self.stderr_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stdout(self) -> str:
        try:
            return self.stdout_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def diagnostics(self, tail: int = 4000) -> str:
        err = self.stderr()
        status = "running" if self.running else f"exited with {self.proc.returncode if self.proc else '?'}"
        return f"\n--- gigachatd ({status}) stderr, last {tail} chars ---\n{err[-tail:]}\n--- end of stderr ---"

    # -- clients
    def connect(self, timeout: float = DEFAULT_TIMEOUT) -> RpcConnection:
        conn = RpcConnection(self.socket_path, transcript=self.transcript, timeout=timeout, diagnostics=self.diagnostics)
        self.connections.append(conn)
        return conn

    def chat(self, prompt: str | list[dict[str, Any]], **kw: Any) -> ChatOutcome:
        """One chat on a fresh connection."""
        with self.connect() as conn:
            return conn.chat(prompt, **kw)

    # -- secrets
    def secrets(self) -> list[str]:
        out = list(self.extra_secrets)
        if self.fake is not None:
            out.extend(self.fake.secrets())
        return out

    def leaked_secrets(self) -> list[str]:
        """Descriptions of every secret found in anything the daemon wrote or sent."""
        places = {
            "stderr": self.stderr_path.read_bytes() if self.stderr_path.exists() else b"",
            "stdout": self.stdout_path.read_bytes() if self.stdout_path.exists() else b"",
            "socket responses": self.transcript.bytes(),
        }
        return find_secrets(places, self.secrets())


def find_secrets(places: dict[str, bytes], secrets: Iterable[str]) -> list[str]:
    """Where any secret (or a 24+ character piece from its start or end) shows up."""
    found = []
    for secret in secrets:
        needles = {secret}
        if len(secret) >= 48:  # a token logged in part is still a leak
            needles |= {secret[:24], secret[-24:]}
        for where, data in places.items():
            text = data.decode("utf-8", "replace")
            for needle in needles:
                if needle and needle in text:
                    found.append(f"a secret ({secret[:4]}..., {len(secret)} chars) appears in {where}")
                    break
    return found


# --------------------------------------------------------------------------------------------------
# gigachatctl


@dataclass
class CtlResult:
    returncode: int
    stdout: str
    stderr: str
    stdout_bytes: bytes
    argv: list[str]

    def __str__(self) -> str:
        return f"{' '.join(self.argv)} -> {self.returncode}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


def run_ctl(
    binary: Path, testenv: TestEnv, *args: str, input: Optional[str | bytes] = None,
    env: Optional[dict[str, Optional[str]]] = None, timeout: float = 20.0,
) -> CtlResult:
    full_env = merge_env(testenv.base(), env)
    data = input.encode() if isinstance(input, str) else input
    argv = [str(binary), *args]
    proc = subprocess.run(
        argv, input=data, env=full_env, capture_output=True, timeout=timeout, cwd=testenv.root,
        stdin=None if data is not None else subprocess.DEVNULL,
    )
    testenv.outputs.extend([proc.stdout, proc.stderr])
    return CtlResult(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"), proc.stdout, argv)


# --------------------------------------------------------------------------------------------------
# Small utilities for tests


def run_parallel(fn: Callable[[int], Any], n: int, *, timeout: float = 30.0) -> list[Any]:
    """Run fn(0..n-1) in n threads at once, released together; results in order, errors re-raised."""
    barrier = threading.Barrier(n)

    def task(i: int) -> Any:
        barrier.wait(timeout)
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(task, i) for i in range(n)]
        return [f.result(timeout=timeout) for f in futures]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --------------------------------------------------------------------------------------------------
# Another user at the socket (the tests that use these need root and setpriv)

NOBODY = 65534

# Connects to argv[1] as whoever runs it, sends argv[2] (a request, as text) and prints what comes back.
PEER_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
"""


def as_nobody(*argv: str, **kw: Any) -> subprocess.CompletedProcess:
    """Runs argv as uid/gid nobody with no supplementary groups."""
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv],
        capture_output=True, timeout=20, **kw,
    )


def open_doors(socket_path: Path) -> None:
    """Opens the directory and socket modes the daemon keeps shut, so that only its peer-credential
    check stands between another user and the socket."""
    socket_path.parent.chmod(0o755)
    socket_path.chmod(0o666)
    for parent in list(socket_path.parents)[1:]:
        if str(parent) in ("/", "/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o011)

