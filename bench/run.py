#!/usr/bin/env python3
"""gigachatd side by side with the official GigaChat Python SDK, against the same fake API.

    make bench            # swift build -c release, then this script
    python3 bench/run.py  # uses .build/release/{gigachatd,gigachatctl} as they are

What it does, in one run (everything on 127.0.0.1, every loop bounded in count and time, every process
it starts is stopped again, also on error or Ctrl-C):

1. starts the fake API, Tests/EndToEnd/fake_gigachat/ (loopback HTTPS, test CA), as its own process;
2. makes (or reuses) a virtual environment with the official SDK (`pip install gigachat`), in
   bench/.venv by default (--venv; GIGACHAT_SDK_SPEC to pin a version);
3. measures start-up, one-shot questions, one fast stream, 50 paced concurrent streams, memory with 200
   streams and OAuth calls, for the release gigachatd + gigachatctl and for the SDK;
4. prints one table and writes it with the details to bench/REPORT.md (bench/NOTES.md, hand-written
   profiling notes, is appended verbatim). Raw numbers and logs go to bench/out/.

Numbers are noisy when the machine is busy: the report records the load average before and after.
--quick runs smaller counts (for working on this script; the report then says so).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
FAKE_DIR = ROOT / "Tests" / "EndToEnd"  # holds the fake API, the package fake_gigachat
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Targets from issue 6.
TARGET_ONESHOT_RATIO = 50.0  # SDK median / gigachatctl median
TARGET_ONESHOT_MS = 10.0  # gigachatctl median
TARGET_RELAY_US = 5.0  # daemon CPU per chunk
TARGET_BARE_PCT = 90.0  # daemon stream throughput as % of a bare reader
TARGET_P99_MS = 5.0  # 50 paced streams, per-chunk added latency
TARGET_IDLE_MB = 15.0
TARGET_LOADED_MB = 40.0  # with 200 streams
TARGET_READY_MS = 30.0


@dataclass
class Counts:
    oneshot_runs: int = 20
    oauth_requests: int = 100  # gigachatctl one-shots for the OAuth figure
    stream_chunks: int = 20_000
    stream_bytes: int = 16
    stream_repeats: int = 3
    conc_streams: int = 50
    conc_chunks: int = 500
    conc_pace_ms: int = 10
    mem_streams: int = 200
    mem_chunks: int = 400  # paced 50 ms: 20 s per stream, so all 200 are open at once even if
    mem_pace_ms: int = 50  # opening the upstream connections takes a while
    startups: int = 10

    @classmethod
    def quick(cls) -> "Counts":
        return cls(oneshot_runs=5, oauth_requests=20, stream_chunks=5000, stream_repeats=1,
                   conc_streams=10, conc_chunks=100, mem_streams=40, mem_chunks=60, startups=3)


# --------------------------------------------------------------------------------------------------
# Small helpers


def log(msg: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


class BenchError(Exception):
    pass


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def read_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM, ... in kB from /proc/PID/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Vm"):
                name, _, rest = line.partition(":")
                out[name] = int(rest.split()[0])
    return out


def proc_cpu_ticks(pid: int) -> float:
    """utime + stime of the whole process (all threads, dead ones included), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_ctxt_switches(pid: int) -> int:
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def proc_task_cpu(pid: int) -> dict[int, int]:
    """On-CPU nanoseconds of each live thread, from /proc/PID/task/*/schedstat (precise)."""
    out: dict[int, int] = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return out


@dataclass
class CPUSample:
    ticks_s: float
    tasks: dict[int, int]
    switches: int

    @classmethod
    def of(cls, pid: int) -> "CPUSample":
        return cls(proc_cpu_ticks(pid), proc_task_cpu(pid), proc_ctxt_switches(pid))

    def minus(self, before: "CPUSample") -> dict[str, Any]:
        # schedstat is precise but forgets threads that exit; /proc/PID/stat counts them, in clock ticks
        # only. Precise when every thread seen before is still there and the ticks do not show more
        # (a thread that came and went in between), else the ticks.
        precise = (sum(self.tasks.values()) - sum(before.tasks.values())) / 1e9
        coarse = self.ticks_s - before.ticks_s
        exact = set(before.tasks) <= set(self.tasks) and coarse <= precise + 2.0 / CLK_TCK
        return {"cpu_s": precise if exact else coarse, "cpu_sched_s": precise, "cpu_ticks_s": coarse,
                "exact": exact, "switches": self.switches - before.switches, "threads": len(self.tasks)}


# --------------------------------------------------------------------------------------------------
# Processes: every one we start is registered and stopped at the end, whatever happens


class Procs:
    def __init__(self) -> None:
        self._procs: list[subprocess.Popen] = []
        self._lock = threading.Lock()

    def spawn(self, argv: list[str], **kw: Any) -> subprocess.Popen:
        p = subprocess.Popen([str(a) for a in argv], **kw)
        with self._lock:
            self._procs.append(p)
        return p

    def stop(self, p: subprocess.Popen, timeout: float = 5.0) -> Optional[int]:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            except ProcessLookupError:
                pass
        with self._lock:
            if p in self._procs:
                self._procs.remove(p)
        return p.returncode

    def stop_all(self) -> None:
        with self._lock:
            procs = list(self._procs)
        for p in reversed(procs):
            self.stop(p, timeout=3.0)


PROCS = Procs()


@dataclass
class Timed:
    wall_s: float
    rc: int
    cpu_s: float  # user + system of the child
    maxrss_kb: int
    stdout: bytes = b""
    stderr: bytes = b""


def run_timed(argv: list[str], env: dict[str, str], timeout: float, tmp: Path, capture: bool = True,
              hwm: bool = False) -> Timed:
    """Runs one process to completion: wall time from spawn to exit, its rusage, its output.

    Output goes to files (not pipes) so nothing in this script runs while the child does. rusage's
    ru_maxrss is useless here: exec folds the forking parent's high-water mark (this Python, ~30 MB)
    into the child's. With hwm=True the child's own VmHWM is polled every 5 ms instead (good for
    processes that run much longer than that and are not this Python); maxrss_kb is then that, else 0.
    """
    out_path = tmp / "child.out"
    err_path = tmp / "child.err"
    peak = [0]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = PROCS.spawn(argv, env=env, stdin=subprocess.DEVNULL, stdout=out if capture else subprocess.DEVNULL,
                        stderr=err)
        timer = threading.Timer(timeout, lambda: p.kill())
        timer.start()
        done = threading.Event()
        sampler = None
        if hwm:
            me = os.path.realpath(sys.executable)

            def sample() -> None:
                while not done.is_set():
                    try:
                        # Only after exec: until then the vforked child shares this process's memory.
                        if os.readlink(f"/proc/{p.pid}/exe") != me:
                            peak[0] = max(peak[0], read_status(p.pid).get("VmHWM", 0))
                    except (OSError, ValueError):
                        pass
                    done.wait(0.005)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
            t1 = time.perf_counter()
        finally:
            timer.cancel()
            done.set()
            if sampler:
                sampler.join(1)
        p.returncode = os.waitstatus_to_exitcode(status)
    PROCS.stop(p)
    return Timed(t1 - t0, p.returncode, ru.ru_utime + ru.ru_stime, peak[0],
                 out_path.read_bytes() if capture else b"", err_path.read_bytes())


def peak_rss_via_time(argv: list[str], env: dict[str, str], tmp: Path, runs: int = 3) -> list[int]:
    """Peak RSS (kB) of short processes, from GNU time (it forks them itself, so their ru_maxrss is
    their own); empty when /usr/bin/time is not installed."""
    gnu_time = "/usr/bin/time"
    if not os.access(gnu_time, os.X_OK):
        return []
    out = []
    for _ in range(runs):
        t = run_timed([gnu_time, "-f", "MAXRSS=%M", *argv], env, 120, tmp)
        m = re.search(rb"MAXRSS=(\d+)", t.stderr)
        if t.rc == 0 and m:
            out.append(int(m.group(1)))
    return out


def wait_until(pred: Callable[[], bool], timeout: float, what: str, step: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(step)
    raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")


# --------------------------------------------------------------------------------------------------
# The fake API


def run_fake(argv: list[str]) -> int:
    """The fake API with TCP_NODELAY on its accepted connections (`run.py --run-fake ARGS`).

    The fake writes a response's head and body separately, and without TCP_NODELAY Nagle's
    algorithm holds the body back until the client's delayed ACK (40 ms on Linux): every non-streamed
    reply and every paced chunk would wait up to 40 ms in the fake, for any client. The fake now sets
    TCP_NODELAY itself; this wrapper keeps the benchmark's figures independent of that detail.
    """
    sys.path.insert(0, str(FAKE_DIR))
    import fake_gigachat as fg  # type: ignore[import-not-found]

    original = fg._HTTPServer.process_request

    def process_request(self: Any, request: socket.socket, client_address: Any) -> None:
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        original(self, request, client_address)

    fg._HTTPServer.process_request = process_request
    return fg.main(argv)


class Fake:
    def __init__(self, tmp: Path, outdir: Path, as_is: bool = False) -> None:
        self.tmp = tmp
        env_file, ready = tmp / "fake.env", tmp / "fake.ready"
        self.log = open(outdir / "fake.log", "wb")
        launcher = ["-m", "fake_gigachat"] if as_is else [Path(__file__).resolve(), "--run-fake"]
        self.proc = PROCS.spawn(
            [sys.executable, *launcher, "--port", "0", "--certdir", tmp / "pki", "--env-file", env_file,
             "--ready-file", ready],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(FAKE_DIR)},
        )
        wait_until(lambda: ready.exists() or self.proc.poll() is not None, 60, "the fake API to listen")
        if self.proc.poll() is not None:
            raise BenchError(f"the fake API exited with {self.proc.returncode}; see bench/out/fake.log")
        self.info = json.loads(ready.read_text())
        self.env: dict[str, str] = {}
        for line in env_file.read_text().splitlines():
            k, sep, v = line.partition("=")
            if sep:
                self.env[k.strip()] = v.strip()
        self.control_url = self.env.pop("FAKE_GIGACHAT_CONTROL_URL")
        self.ssl = ssl.create_default_context(cafile=self.env["GIGACHAT_CA_BUNDLE_FILE"])

    def control(self, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.control_url, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.ssl, timeout=10) as r:
            return json.loads(r.read())

    def state(self) -> dict[str, Any]:
        return self.control()["state"]

    def reset_stats(self) -> None:
        self.control({"action": "reset_stats"})


# --------------------------------------------------------------------------------------------------
# gigachatd


class Daemon:
    def __init__(self, binary: Path, fake: Fake, tmp: Path, outdir: Path, name: str, max_connections: int) -> None:
        self.binary = binary
        self.name = name
        self.dir = tmp / name
        for sub in ("home", "run", "config", "state"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
            (self.dir / sub).chmod(0o700)
        self.socket = str(self.dir / "run" / "d.sock")
        self.notify_path = str(self.dir / "notify")
        self.env = base_env(self.dir)
        self.env.update(fake.env)
        self.env["GIGACHAT_MAX_CONNECTIONS"] = str(max_connections)
        self.env["NOTIFY_SOCKET"] = self.notify_path
        self.logfile = outdir / f"{name}.log"
        self.proc: Optional[subprocess.Popen] = None
        self.ready_ms = self.accept_ms = float("nan")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 15.0) -> "Daemon":
        """Starts the daemon and times process start -> READY=1 and -> the socket accepting."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.notify_path)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(self.notify_path)
        notify.setblocking(False)
        try:
            log_f = open(self.logfile, "ab")
            t0 = time.perf_counter()
            self.proc = PROCS.spawn([self.binary, "--socket", self.socket, "--log-level", "warning"],
                                    env=self.env, stdin=subprocess.DEVNULL, stdout=log_f, stderr=log_f)
            log_f.close()
            ready = accepting = None
            deadline = t0 + timeout
            while (ready is None or accepting is None) and time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise BenchError(f"gigachatd exited with {self.proc.returncode} at start; see {self.logfile}")
                if ready is None:
                    r, _, _ = select.select([notify], [], [], 0 if accepting is None else 0.01)
                    if r:
                        data = notify.recv(65536)
                        if b"READY=1" in data.split(b"\n"):
                            ready = time.perf_counter()
                if accepting is None:
                    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    try:
                        c.connect(self.socket)
                        accepting = time.perf_counter()
                    except (FileNotFoundError, ConnectionRefusedError):
                        time.sleep(0.0002)
                    finally:
                        c.close()
            if ready is None or accepting is None:
                raise BenchError(f"gigachatd did not become ready within {timeout:.0f} s; see {self.logfile}")
            self.ready_ms = (ready - t0) * 1000
            self.accept_ms = (accepting - t0) * 1000
        finally:
            notify.close()
        return self

    def wait_token(self, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = rpc(self.socket, "status")
            if st.get("token", {}).get("refreshes", 0) >= 1 and st.get("state") == "running":
                return st
            time.sleep(0.02)
        raise BenchError(f"gigachatd got no token within {timeout:.0f} s; see {self.logfile}")

    def stop(self) -> None:
        if self.proc is not None:
            PROCS.stop(self.proc, timeout=10.0)


def base_env(d: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(d / "home"),
        "XDG_RUNTIME_DIR": str(d / "run"),
        "XDG_CONFIG_HOME": str(d / "config"),
        "XDG_STATE_HOME": str(d / "state"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    if "LD_LIBRARY_PATH" in os.environ:
        env["LD_LIBRARY_PATH"] = os.environ["LD_LIBRARY_PATH"]
    return env


def rpc(path: str, method: str, params: Optional[dict[str, Any]] = None, timeout: float = 10.0) -> Any:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            msg["params"] = params
        s.sendall(json.dumps(msg).encode() + b"\n")
        buf = b""
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                m = json.loads(line)
                if m.get("id") == 1:
                    if "error" in m:
                        raise BenchError(f"{method}: {m['error']}")
                    return m["result"]
            data = s.recv(65536)
            if not data:
                raise BenchError(f"{method}: the daemon closed the connection")
            buf += data
    finally:
        s.close()


# --------------------------------------------------------------------------------------------------
# The official SDK in its own virtual environment


def ensure_venv(venv: Path) -> Path:
    py = venv / "bin" / "python"
    spec = os.environ.get("GIGACHAT_SDK_SPEC", "gigachat")
    if py.exists():
        r = subprocess.run([py, "-c", "import gigachat, httpx"], capture_output=True, timeout=120)
        if r.returncode == 0:
            return py
        log(f"{venv} exists but cannot import gigachat; recreating it")
        shutil.rmtree(venv)
    log(f"creating {venv} and installing {spec} from PyPI")
    made = subprocess.run([sys.executable, "-m", "venv", venv], capture_output=True, timeout=300)
    if made.returncode != 0 and shutil.which("apt-get"):
        # Debian's own python3 keeps ensurepip in a separate package.
        shutil.rmtree(venv, ignore_errors=True)
        pkg = f"python{sys.version_info.major}.{sys.version_info.minor}-venv"
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        log(f"`python3 -m venv` failed; installing {pkg} with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", pkg], env=env, timeout=600)
        made = subprocess.run([sys.executable, "-m", "venv", venv], capture_output=True, timeout=300)
    if made.returncode != 0:
        raise BenchError(f"cannot create a virtual environment: {made.stderr.decode(errors='replace')[-1000:]}"
                         " (on Debian: apt-get install python3-venv)")
    subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", spec], check=True, timeout=900)
    r = subprocess.run([py, "-c", "import gigachat"], capture_output=True, timeout=120)
    if r.returncode != 0:
        raise BenchError(f"the SDK does not import: {r.stderr.decode(errors='replace')}")
    return py


def sdk_versions(py: Path) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, sys; "
            "print(json.dumps({'gigachat': m.version('gigachat'), 'httpx': m.version('httpx'), "
            "'pydantic': m.version('pydantic'), 'python': sys.version.split()[0]}))")
    r = subprocess.run([py, "-c", code], capture_output=True, timeout=60)
    return json.loads(r.stdout) if r.returncode == 0 else {}


# The SDK scripts. Both use the v1 "root" chat API (client.chat / stream / astream -> POST
# {base}/chat/completions), which is what the fake and gigachatd speak; in gigachat 0.2.x
# client.chat.create/stream go to a /v2 path instead.
SDK_ONESHOT = ("from gigachat import GigaChat; "
               "print(GigaChat().chat('Hello').choices[0].message.content)")

SDK_STREAM = r'''
import json, resource, sys, time
from gigachat import GigaChat
n, size, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
client = GigaChat()
client.chat("warm up")  # token and a kept-alive connection, as the daemon already has them
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
chunks = nbytes = 0
for chunk in client.stream({"model": f"bench:{n}:{size}", "messages": [{"role": "user", "content": "go"}]}):
    c = chunk.choices[0].delta.content if chunk.choices else None
    if c:
        chunks += 1
        nbytes += len(c)
t1 = time.perf_counter()
r1 = resource.getrusage(resource.RUSAGE_SELF)
client.close()
json.dump({"wall_s": t1 - t0, "chunks": chunks, "bytes": nbytes,
           "cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
           "maxrss_kb": int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])}, open(out, "w"))
'''

SDK_CONCURRENT = r'''
import asyncio, json, resource, sys, time
from gigachat import GigaChat
streams, n, size, pace, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
model = f"bench:{n}:{size}:{pace}"

async def main():
    client = GigaChat()
    await client.achat("warm up")
    lat = []
    async def one():
        got, pending = 0, ""
        async for chunk in client.astream({"model": model, "messages": [{"role": "user", "content": "go"}]}):
            now = time.time_ns() // 1000
            c = chunk.choices[0].delta.content if chunk.choices else None
            if not c:
                continue
            pending += c
            while len(pending) >= size:
                rec, pending = pending[:size], pending[size:]
                lat.append(now - int(rec[:16]))
                got += 1
        return got
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    res = await asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True)
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    json.dump({"wall_s": t1 - t0, "records": sum(r for r in res if isinstance(r, int)),
               "errors": [repr(r) for r in res if not isinstance(r, int)], "lat_us": lat,
               "cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
               "maxrss_kb": int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])}, open(out, "w"))

asyncio.run(main())
'''


# --------------------------------------------------------------------------------------------------
# The lean asyncio client for gigachatd (run as its own process: `run.py --lean-client ...`)


async def _lean_main(sock: str, streams: int, n: int, size: int, pace: int, out: str) -> None:
    model = f"bench:{n}:{size}:{pace}"
    req = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chat", "params": {
        "model": model, "messages": [{"role": "user", "content": "go"}], "stream": True}}).encode() + b"\n"
    lat: list[int] = []
    loads = json.loads

    async def one() -> int:
        reader, writer = await asyncio.open_unix_connection(sock, limit=1 << 22)
        try:
            writer.write(req)
            await writer.drain()
            got, pending = 0, ""
            while True:
                line = await reader.readline()
                now = time.time_ns() // 1000
                if not line:
                    raise RuntimeError("gigachatd closed the connection mid-stream")
                msg = loads(line)
                if msg.get("method") == "chat.delta":
                    c = msg["params"].get("content")
                    if not c:
                        continue
                    pending += c
                    while len(pending) >= size:
                        rec, pending = pending[:size], pending[size:]
                        lat.append(now - int(rec[:16]))
                        got += 1
                elif msg.get("id") == 1:
                    if "error" in msg:
                        raise RuntimeError(f"error: {msg['error']}")
                    return got
        finally:
            writer.close()

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    res = await asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True)
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    with open(out, "w") as f:
        json.dump({"wall_s": t1 - t0, "records": sum(r for r in res if isinstance(r, int)),
                   "errors": [repr(r) for r in res if not isinstance(r, int)], "lat_us": lat,
                   "cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
                   "maxrss_kb": read_status(os.getpid())["VmHWM"]}, f)


def _raw_reader(sock: str, model: str, out: str) -> None:
    """One streamed chat through gigachatd, reading the bytes without parsing them: what the daemon
    alone can deliver (the end is the final response line, the only one with "id":1 and "result")."""
    req = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chat", "params": {
        "model": model, "messages": [{"role": "user", "content": "go"}], "stream": True}}).encode() + b"\n"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    t0 = time.perf_counter()
    s.connect(sock)
    s.sendall(req)
    total, lines, head, done = 0, 0, b"", False
    while not done:
        data = s.recv(1 << 20)
        if not data:
            raise SystemExit("gigachatd closed the connection before the final response")
        total += len(data)
        pos = 0
        while True:
            # head: the first bytes of the line being received; the final response is the line that
            # is not a notification (it can be long: it carries the whole text).
            nl = data.find(b"\n", pos)
            if len(head) < 48:
                head += data[pos:(nl if nl >= 0 else len(data))][:48 - len(head)]
            if nl < 0:
                break
            lines += 1
            if b'"method"' not in head and b'"id":1' in head:
                if b'"error"' in head:
                    raise SystemExit(f"error: {data[max(0, nl - 500):nl]!r}")
                done = True
            head, pos = b"", nl + 1
    t1 = time.perf_counter()
    s.close()
    with open(out, "w") as f:
        json.dump({"wall_s": t1 - t0, "bytes": total, "lines": lines}, f)


# --------------------------------------------------------------------------------------------------
# The measurements


@dataclass
class Results:
    counts: Counts
    data: dict[str, Any] = field(default_factory=dict)

    def __setitem__(self, k: str, v: Any) -> None:
        self.data[k] = v

    def __getitem__(self, k: str) -> Any:
        return self.data[k]

    def get(self, k: str, default: Any = None) -> Any:
        return self.data.get(k, default)


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, outdir: Path) -> None:
        self.args = args
        self.c = Counts.quick() if args.quick else Counts()
        self.tmp = tmp
        self.out = outdir
        rel = Path(args.build_dir)
        self.gigachatd = rel / "gigachatd"
        self.ctl = rel / "gigachatctl"
        for b in (self.gigachatd, self.ctl):
            if not os.access(b, os.X_OK):
                raise BenchError(f"{b} is missing: run `swift build -c release` first (or `make bench`)")
        self.r = Results(self.c)
        self.fake: Optional[Fake] = None
        self.py: Optional[Path] = None
        self.sdk_env: dict[str, str] = {}

    # -- setup
    def setup(self) -> None:
        self.r["load_before"] = os.getloadavg()
        self.py = ensure_venv(Path(self.args.venv))
        self.r["sdk_versions"] = sdk_versions(self.py)
        log("starting the fake API")
        self.fake = Fake(self.tmp, self.out, as_is=self.args.fake_as_is)
        self.sdk_env = base_env(self.tmp / "sdk")
        for sub in ("home", "run", "config", "state"):
            (self.tmp / "sdk" / sub).mkdir(parents=True, exist_ok=True)
        self.sdk_env.update(self.fake.env)
        self.sdk_env["GIGACHAT_TIMEOUT"] = "120"
        self.sdk_env["GIGACHAT_MODEL"] = "GigaChat"  # the SDK insists on a model; the daemon defaults to it
        (self.tmp / "sdk_stream.py").write_text(SDK_STREAM)
        (self.tmp / "sdk_concurrent.py").write_text(SDK_CONCURRENT)
        self.token = self.fake.control({"action": "add_token", "lifetime": 7200})["token"]
        # Warm the SDK's bytecode cache so no run pays for compiling it.
        t = run_timed([self.py, "-c", SDK_ONESHOT], self.sdk_env, 120, self.tmp)
        if t.rc != 0 or b"Echo: Hello" not in t.stdout:
            raise BenchError(f"the SDK cannot talk to the fake API: rc {t.rc}\n{t.stderr.decode(errors='replace')}")

    # -- 1. start-up
    def startup(self) -> None:
        log(f"start-up: {self.c.startups} daemon starts")
        ready, accept, idle = [], [], []
        for i in range(self.c.startups):
            d = Daemon(self.gigachatd, self.fake, self.tmp, self.out, f"start{i}", 1).start()
            ready.append(d.ready_ms)
            accept.append(d.accept_ms)
            d.wait_token()
            idle.append(read_status(d.pid).get("VmRSS", 0))
            d.stop()
            shutil.rmtree(d.dir, ignore_errors=True)
        self.r["startup_ready_ms"] = ready
        self.r["startup_accept_ms"] = accept
        self.r["startup_idle_rss_kb"] = idle
        # For the SDK column: the nearest thing it has to "ready" is importing it and making a client.
        walls = []
        for _ in range(3):
            t = run_timed([self.py, "-c", "import gigachat; gigachat.GigaChat()"], self.sdk_env, 60, self.tmp)
            walls.append(t.wall_s * 1000)
        self.r["sdk_import_ms"] = walls

    # -- the main daemon
    def start_main(self) -> Daemon:
        self.fake.reset_stats()
        d = Daemon(self.gigachatd, self.fake, self.tmp, self.out, "main", self.c.conc_streams).start()
        st = d.wait_token()
        self.r["daemon_version"] = st.get("version")
        time.sleep(1.0)
        self.r["idle_rss_kb"] = read_status(d.pid)["VmRSS"]
        self.r["idle_threads"] = len(os.listdir(f"/proc/{d.pid}/task"))
        return d

    # -- 2. one-shot and OAuth
    def oneshot(self, d: Daemon) -> None:
        c = self.c
        argv = [self.ctl, "--socket", d.socket, "chat", "--no-stream", "-m", "GigaChat", "Hello"]
        env = base_env(d.dir)
        log(f"one-shot: gigachatctl x {c.oauth_requests}")
        first = run_timed(argv, env, 30, self.tmp)
        if first.rc != 0 or b"Echo: Hello" not in first.stdout:
            raise BenchError(f"gigachatctl failed (rc {first.rc}): {first.stderr.decode(errors='replace')}")
        ours, ours_cpu = [], []
        for i in range(c.oauth_requests - 1):
            t = run_timed(argv, env, 30, self.tmp)
            if t.rc != 0:
                raise BenchError(f"gigachatctl failed (rc {t.rc}): {t.stderr.decode(errors='replace')}")
            if i < c.oneshot_runs:
                ours.append(t.wall_s * 1000)
                ours_cpu.append(t.cpu_s * 1000)
        st = self.fake.state()
        self.r["oauth_daemon"] = st["oauth_calls"]  # since just before the daemon started
        self.r["oauth_daemon_requests"] = c.oauth_requests
        self.r["oneshot_ctl_ms"] = ours
        self.r["oneshot_ctl_cpu_ms"] = ours_cpu
        self.r["oneshot_ctl_rss_kb"] = peak_rss_via_time(argv, env, self.tmp)

        log(f"one-shot: SDK x {c.oneshot_runs}")
        self.fake.reset_stats()
        sdk, sdk_cpu = [], []
        for _ in range(c.oneshot_runs):
            t = run_timed([self.py, "-c", SDK_ONESHOT], self.sdk_env, 60, self.tmp)
            if t.rc != 0 or b"Echo: Hello" not in t.stdout:
                raise BenchError(f"SDK one-shot failed (rc {t.rc}): {t.stderr.decode(errors='replace')}")
            sdk.append(t.wall_s * 1000)
            sdk_cpu.append(t.cpu_s * 1000)
        st = self.fake.state()
        self.r["oauth_sdk"] = st["oauth_calls"]
        self.r["oauth_sdk_processes"] = c.oneshot_runs
        self.r["oneshot_sdk_ms"] = sdk
        self.r["oneshot_sdk_cpu_ms"] = sdk_cpu
        self.r["oneshot_sdk_rss_kb"] = peak_rss_via_time([self.py, "-c", SDK_ONESHOT], self.sdk_env, self.tmp)

    # -- 3. one fast stream
    def stream(self, d: Daemon) -> None:
        c = self.c
        n, size = c.stream_chunks, c.stream_bytes
        model = f"bench:{n}:{size}"
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "daemon": [], "sdk": []}
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": "go"}], "stream": True})
        url = self.fake.env["GIGACHAT_BASE_URL"].rstrip("/") + "/chat/completions"
        # The daemon's fixed cost per streamed request (one chunk), to separate it from the per-chunk cost.
        small = []
        for _ in range(5):
            d0 = CPUSample.of(d.pid)
            t = run_timed([self.ctl, "--socket", d.socket, "chat", "-m", f"bench:1:{size}", "go"], base_env(d.dir),
                          30, self.tmp)
            d1 = CPUSample.of(d.pid)
            if t.rc != 0:
                raise BenchError(f"gigachatctl stream: rc {t.rc}: {t.stderr.decode(errors='replace')[:2000]}")
            small.append(d1.minus(d0)["cpu_s"])
        self.r["stream_request_overhead_s"] = small
        for rep in range(c.stream_repeats):
            log(f"stream {n} x {size} B, round {rep + 1}/{c.stream_repeats}: bare curl, gigachatd, SDK")
            # Bare reader: curl straight to the fake, output thrown away.
            fake0 = CPUSample.of(self.fake.proc.pid)
            t = run_timed(["curl", "-sS", "-N", "--http1.1", "--cacert", self.fake.env["GIGACHAT_CA_BUNDLE_FILE"],
                           "-H", f"Authorization: Bearer {self.token}", "-H", "Content-Type: application/json",
                           "-H", "Accept: text/event-stream", "--data-binary", body, "-o", "/dev/null",
                           "-w", "%{time_pretransfer} %{time_starttransfer} %{time_total} %{size_download}", url],
                          base_env(self.tmp / "sdk"), 120, self.tmp)
            fake1 = CPUSample.of(self.fake.proc.pid)
            if t.rc != 0:
                raise BenchError(f"curl failed (rc {t.rc}): {t.stderr.decode(errors='replace')}")
            pre, start, total, size_dl = (float(x) for x in t.stdout.split())
            runs["bare"].append({"wall_s": total - pre, "process_wall_s": t.wall_s, "cpu_s": t.cpu_s,
                                 "bytes": size_dl, "fake_cpu_s": fake1.minus(fake0)["cpu_ticks_s"]})

            # gigachatd + gigachatctl streaming to a file.
            argv = [self.ctl, "--socket", d.socket, "chat", "-m", model, "go"]
            d0, fake0 = CPUSample.of(d.pid), CPUSample.of(self.fake.proc.pid)
            t = run_timed(argv, base_env(d.dir), 120, self.tmp, hwm=True)
            d1, fake1 = CPUSample.of(d.pid), CPUSample.of(self.fake.proc.pid)
            text = t.stdout.rstrip(b"\n")
            if t.rc != 0 or len(text) != n * size or not text[:16].isdigit():
                raise BenchError(f"gigachatctl stream: rc {t.rc}, {len(text)} bytes of {n * size}: "
                                 f"{t.stderr.decode(errors='replace')[:2000]}")
            dd = d1.minus(d0)
            runs["daemon"].append({"wall_s": t.wall_s, "client_cpu_s": t.cpu_s, "client_maxrss_kb": t.maxrss_kb,
                                   "daemon_cpu_s": dd["cpu_s"], "daemon_cpu_ticks_s": dd["cpu_ticks_s"],
                                   "daemon_switches": dd["switches"], "fake_cpu_s": fake1.minus(fake0)["cpu_ticks_s"]})

            # gigachatd with a reader that does not parse: the daemon's own ceiling.
            res = self.tmp / "raw.json"
            d0 = CPUSample.of(d.pid)
            t = run_timed([sys.executable, Path(__file__).resolve(), "--raw-reader", d.socket, model, res],
                          base_env(d.dir), 120, self.tmp)
            d1 = CPUSample.of(d.pid)
            if t.rc != 0:
                raise BenchError(f"raw reader failed (rc {t.rc}): {t.stderr.decode(errors='replace')[-2000:]}")
            raw = json.loads(res.read_text())
            raw["daemon_cpu_s"] = d1.minus(d0)["cpu_s"]
            raw["reader_cpu_s"] = t.cpu_s
            runs.setdefault("raw", []).append(raw)

            # The SDK, timed inside its process from the request to the last chunk.
            res = self.tmp / "sdk_stream.json"
            fake0 = CPUSample.of(self.fake.proc.pid)
            t = run_timed([self.py, self.tmp / "sdk_stream.py", n, size, res], self.sdk_env, 300, self.tmp)
            fake1 = CPUSample.of(self.fake.proc.pid)
            if t.rc != 0:
                raise BenchError(f"SDK stream failed (rc {t.rc}): {t.stderr.decode(errors='replace')[-3000:]}")
            s = json.loads(res.read_text())
            if s["chunks"] != n:
                raise BenchError(f"SDK stream: {s['chunks']} chunks of {n}")
            s["process_cpu_s"] = t.cpu_s
            s["process_wall_s"] = t.wall_s
            s["process_maxrss_kb"] = t.maxrss_kb
            s["fake_cpu_s"] = fake1.minus(fake0)["cpu_ticks_s"]
            runs["sdk"].append(s)
        self.r["stream"] = runs

    # -- 4. concurrent paced streams
    def concurrency(self, d: Daemon) -> None:
        c = self.c
        # Twice: the first round also opens the upstream connections (the table's figure), the second
        # finds the daemon's connections to the fake already open (in the details).
        for rnd in ("", "_warm"):
            log(f"concurrency{rnd}: {c.conc_streams} streams x {c.conc_chunks} chunks paced {c.conc_pace_ms} ms, gigachatd")
            res = self.tmp / "lean.json"
            self.fake.reset_stats()
            d0 = CPUSample.of(d.pid)
            t = run_timed([sys.executable, Path(__file__).resolve(), "--lean-client", d.socket, c.conc_streams,
                           c.conc_chunks, 16, c.conc_pace_ms, res], base_env(d.dir), 300, self.tmp)
            d1 = CPUSample.of(d.pid)
            if t.rc != 0:
                raise BenchError(f"lean client failed (rc {t.rc}): {t.stderr.decode(errors='replace')[-3000:]}")
            ours = json.loads(res.read_text())
            ours["daemon"] = d1.minus(d0)
            ours["daemon_hwm_kb"] = read_status(d.pid)["VmHWM"]
            st = self.fake.state()
            ours["new_connections"] = st["connections_accepted"] - 1  # minus our own control request
            ours["max_in_flight"] = st["chat_max_in_flight"]
            log(f"concurrency{rnd}: {c.conc_streams} streams, SDK async client")
            res = self.tmp / "sdkc.json"
            t = run_timed([self.py, self.tmp / "sdk_concurrent.py", c.conc_streams, c.conc_chunks, 16, c.conc_pace_ms,
                           res], self.sdk_env, 300, self.tmp)
            if t.rc != 0:
                raise BenchError(f"SDK concurrent failed (rc {t.rc}): {t.stderr.decode(errors='replace')[-3000:]}")
            sdk = json.loads(res.read_text())
            for name, r in (("gigachatd", ours), ("SDK", sdk)):
                if r["errors"]:
                    raise BenchError(f"{name}: {len(r['errors'])} streams failed: {r['errors'][:3]}")
                if r["records"] != c.conc_streams * c.conc_chunks:
                    raise BenchError(f"{name}: {r['records']} chunks of {c.conc_streams * c.conc_chunks}")
            self.r[f"conc_daemon{rnd}"] = ours
            self.r[f"conc_sdk{rnd}"] = sdk

    # -- 5. memory with 200 streams
    def memory(self) -> None:
        c = self.c
        log(f"memory: a fresh daemon (GIGACHAT_MAX_CONNECTIONS={c.mem_streams}) with {c.mem_streams} streams")
        d = Daemon(self.gigachatd, self.fake, self.tmp, self.out, "mem", c.mem_streams).start()
        try:
            d.wait_token()
            time.sleep(1.0)
            idle = read_status(d.pid)
            self.fake.reset_stats()
            res = self.tmp / "mem.json"
            samples: list[int] = []
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(0.05):
                    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                        samples.append(read_status(d.pid)["VmRSS"])

            th = threading.Thread(target=sample, daemon=True)
            th.start()
            try:
                t = run_timed([sys.executable, Path(__file__).resolve(), "--lean-client", d.socket, c.mem_streams,
                               c.mem_chunks, 16, c.mem_pace_ms, res], base_env(d.dir), 300, self.tmp)
            finally:
                stop.set()
                th.join(2)
            if t.rc != 0:
                raise BenchError(f"lean client (200 streams) failed (rc {t.rc}): {t.stderr.decode(errors='replace')[-3000:]}")
            lean = json.loads(res.read_text())
            if lean["errors"]:
                raise BenchError(f"200 streams: {len(lean['errors'])} failed: {lean['errors'][:3]}")
            after = read_status(d.pid)
            st = self.fake.state()
            time.sleep(1.0)
            settled = read_status(d.pid)
            self.r["mem"] = {"idle_rss_kb": idle["VmRSS"], "peak_rss_sampled_kb": max(samples or [0]),
                             "hwm_kb": after["VmHWM"], "rss_after_kb": settled["VmRSS"],
                             "upstream_max_in_flight": st["chat_max_in_flight"], "records": lean["records"],
                             "wall_s": lean["wall_s"], "ready_ms": d.ready_ms, "accept_ms": d.accept_ms}
        finally:
            d.stop()

    # -- everything
    def run(self) -> Results:
        self.setup()
        self.startup()
        d = self.start_main()
        try:
            self.oneshot(d)
            self.stream(d)
            self.concurrency(d)
            self.r["main_rss_after_kb"] = read_status(d.pid)["VmRSS"]
            self.r["main_hwm_kb"] = read_status(d.pid)["VmHWM"]
        finally:
            d.stop()
        self.memory()
        self.r["load_after"] = os.getloadavg()
        return self.r


# --------------------------------------------------------------------------------------------------
# The report


def fmt(v: float, digits: int = 1) -> str:
    if v != v:  # NaN
        return "—"
    if abs(v) >= 1000 and digits <= 1:
        return f"{v:,.0f}".replace(",", " ")
    return f"{v:.{digits}f}"


def ratio(better: float, worse: float) -> str:
    if not better or not worse or better != better or worse != worse:
        return "—"
    r = worse / better
    return f"{r:.0f}×" if r >= 100 else f"{r:.1f}×"


def mark(ok: bool, text: str) -> str:
    return f"{'met' if ok else '**missed**'} ({text})"


def build_table(r: Results) -> tuple[list[list[str]], dict[str, Any]]:
    c = r.counts
    med = statistics.median
    summary: dict[str, Any] = {}
    rows: list[list[str]] = []

    ctl_med, ctl_p90 = med(r["oneshot_ctl_ms"]), percentile(r["oneshot_ctl_ms"], 90)
    sdk_med, sdk_p90 = med(r["oneshot_sdk_ms"]), percentile(r["oneshot_sdk_ms"], 90)
    ok = ctl_med < TARGET_ONESHOT_MS and sdk_med / ctl_med >= TARGET_ONESHOT_RATIO
    rows.append([f"one-shot question, fresh process, median of {len(r['oneshot_ctl_ms'])} (ms)", fmt(ctl_med),
                 fmt(sdk_med), ratio(ctl_med, sdk_med),
                 mark(ok, f"< {TARGET_ONESHOT_MS:.0f} ms and ≥ {TARGET_ONESHOT_RATIO:.0f}× lower")])
    rows.append(["one-shot question, p90 (ms)", fmt(ctl_p90), fmt(sdk_p90), ratio(ctl_p90, sdk_p90), ""])
    summary.update(oneshot_ctl_median_ms=ctl_med, oneshot_sdk_median_ms=sdk_med)

    n = c.stream_chunks
    st = r["stream"]
    bare_cps = med([n / x["wall_s"] for x in st["bare"]])
    d_cps = med([n / x["wall_s"] for x in st["daemon"]])
    s_cps = med([n / x["wall_s"] for x in st["sdk"]])
    d_cpu = med([(x["daemon_cpu_s"] + x["client_cpu_s"]) * 10_000 / n for x in st["daemon"]])
    s_cpu = med([x["cpu_s"] * 10_000 / n for x in st["sdk"]])
    relay_us = med([x["daemon_cpu_s"] * 1e6 / n for x in st["daemon"]])
    sdk_us = med([x["cpu_s"] * 1e6 / n for x in st["sdk"]])
    pct_d, pct_s = 100 * d_cps / bare_cps, 100 * s_cps / bare_cps
    rows.append([f"one stream of {n:,} × {c.stream_bytes} B: chunks/s (median of {len(st['daemon'])})".replace(",", " "),
                 fmt(d_cps, 0), fmt(s_cps, 0), ratio(1 / d_cps, 1 / s_cps), ""])
    rows.append(["… as % of a bare reader (curl straight to the fake API)", f"{pct_d:.0f} %", f"{pct_s:.0f} %", "",
                 mark(pct_d >= TARGET_BARE_PCT, f"≥ {TARGET_BARE_PCT:.0f} %")])
    rows.append(["… CPU s per 10 000 chunks, all client-side processes", fmt(d_cpu, 3), fmt(s_cpu, 3),
                 ratio(d_cpu, s_cpu), ""])
    rows.append(["relay cost: daemon CPU per chunk (µs); SDK: its process per chunk", fmt(relay_us, 2), fmt(sdk_us, 1),
                 ratio(relay_us, sdk_us), mark(relay_us < TARGET_RELAY_US, f"< {TARGET_RELAY_US:.0f} µs")])
    summary.update(bare_cps=bare_cps, daemon_cps=d_cps, sdk_cps=s_cps, relay_us=relay_us)

    cd, cs = r["conc_daemon"], r["conc_sdk"]
    cd_cps, cs_cps = cd["records"] / cd["wall_s"], cs["records"] / cs["wall_s"]
    cd50, cd99 = percentile(cd["lat_us"], 50) / 1000, percentile(cd["lat_us"], 99) / 1000
    cs50, cs99 = percentile(cs["lat_us"], 50) / 1000, percentile(cs["lat_us"], 99) / 1000
    label = f"{c.conc_streams} streams × {c.conc_chunks} chunks paced {c.conc_pace_ms} ms"
    rows.append([f"{label}: total chunks/s", fmt(cd_cps, 0), fmt(cs_cps, 0), ratio(1 / cd_cps, 1 / cs_cps), ""])
    rows.append(["… added latency per chunk p50 (ms)", fmt(cd50, 2), fmt(cs50, 2), ratio(cd50, cs50), ""])
    rows.append(["… added latency per chunk p99 (ms)", fmt(cd99, 2), fmt(cs99, 2), ratio(cd99, cs99),
                 mark(cd99 < TARGET_P99_MS, f"< {TARGET_P99_MS:.0f} ms")])
    summary.update(conc_p50_ms=cd50, conc_p99_ms=cd99, sdk_conc_p99_ms=cs99)

    idle_mb = r["idle_rss_kb"] / 1024
    mem = r["mem"]
    loaded_mb = max(mem["hwm_kb"], mem["peak_rss_sampled_kb"]) / 1024
    rows.append(["gigachatd RSS idle (MB)", fmt(idle_mb), "—", "", mark(idle_mb < TARGET_IDLE_MB, f"< {TARGET_IDLE_MB:.0f} MB")])
    rows.append([f"gigachatd peak RSS with {c.mem_streams} concurrent streams (MB)", fmt(loaded_mb), "—", "",
                 mark(loaded_mb < TARGET_LOADED_MB, f"< {TARGET_LOADED_MB:.0f} MB")])
    ctl_rss = med([x["client_maxrss_kb"] for x in st["daemon"]]) / 1024
    sdk_rss = med([x["maxrss_kb"] for x in st["sdk"]]) / 1024
    rows.append(["client peak RSS in the stream run (MB): gigachatctl vs SDK process", fmt(ctl_rss), fmt(sdk_rss),
                 ratio(ctl_rss, sdk_rss), ""])
    summary.update(idle_mb=idle_mb, loaded_mb=loaded_mb)

    ready, accept = med(r["startup_ready_ms"]), med(r["startup_accept_ms"])
    imp = med(r["sdk_import_ms"])
    rows.append([f"start-up: process start → READY=1, median of {len(r['startup_ready_ms'])} (ms)", fmt(ready, 1),
                 f"— (import + client: {fmt(imp, 0)})", "", mark(ready < TARGET_READY_MS, f"< {TARGET_READY_MS:.0f} ms")])
    rows.append(["start-up: process start → socket accepting (ms)", fmt(accept, 1), "—", "", ""])
    summary.update(ready_ms=ready, accept_ms=accept)

    per100_sdk = r["oauth_sdk"] * 100 / r["oauth_sdk_processes"]
    d_label = f"{r['oauth_daemon']}"
    s_label = (f"{per100_sdk:.0f}" if r["oauth_sdk_processes"] == 100 else
               f"{per100_sdk:.0f} ({r['oauth_sdk']} in {r['oauth_sdk_processes']} processes)")
    rows.append([f"OAuth calls for {r['oauth_daemon_requests']} one-shot questions (daemon start included)", d_label,
                 s_label, ratio(max(r["oauth_daemon"], 1), per100_sdk),
                 mark(r["oauth_daemon"] == 1, "daemon: 1")])
    return rows, summary


def render_table(rows: list[list[str]]) -> str:
    head = ["figure", "gigachatd", "official SDK", "ratio", "target"]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---"] + ["---:"] * 3 + ["---"]) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "kernel": platform.release(), "memory": mem,
            "os": _os_release()}


def _os_release() -> str:
    with contextlib.suppress(OSError):
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    return "?"


def tool_versions(args: argparse.Namespace, r: Results) -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            p = subprocess.run(argv, capture_output=True, timeout=60, text=True)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, subprocess.TimeoutExpired, IndexError):
            return "?"

    swift = first_line(["swift", "--version"])
    m = re.search(r"Swift version (\S+)", swift)
    curl = first_line(["curl", "--version"]).split()
    commit = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, timeout=60).stdout.strip()
    v = {"gigachatd": f"{r.get('daemon_version') or '?'} (git {commit}{', with uncommitted changes' if dirty else ''})",
         "Swift": m.group(1) if m else swift,
         "libcurl": " ".join(x.replace("libcurl/", "") for x in curl[3:5]) if len(curl) > 4 else "?",
         "python (fake, lean client)": platform.python_version()}
    for k, val in (r.get("sdk_versions") or {}).items():
        v[f"SDK venv {k}"] = val
    return v


def details(r: Results) -> str:
    c = r.counts
    med = statistics.median
    st = r["stream"]
    n = c.stream_chunks
    out = []
    out.append("### Details")
    out.append("")
    rss = ""
    if r["oneshot_ctl_rss_kb"] and r["oneshot_sdk_rss_kb"]:
        rss = (f"; peak RSS (GNU time) gigachatctl {fmt(med(r['oneshot_ctl_rss_kb']) / 1024)} MB, "
               f"SDK {fmt(med(r['oneshot_sdk_rss_kb']) / 1024)} MB")
    out.append(f"- one-shot CPU (user+sys) per process, median: gigachatctl {fmt(med(r['oneshot_ctl_cpu_ms']), 1)} ms, "
               f"SDK {fmt(med(r['oneshot_sdk_cpu_ms']), 0)} ms{rss}. "
               f"All {c.oneshot_runs} gigachatctl runs (ms): {', '.join(fmt(x, 1) for x in r['oneshot_ctl_ms'])}.")
    out.append(f"- SDK `import gigachat` + `GigaChat()` alone: {fmt(med(r['sdk_import_ms']), 0)} ms median.")
    bare = st["bare"]
    out.append(f"- bare reader (curl, request sent → last byte): "
               f"{', '.join(fmt(n / x['wall_s'], 0) for x in bare)} chunks/s; "
               f"gigachatd runs (gigachatctl spawn → exit): {', '.join(fmt(n / x['wall_s'], 0) for x in st['daemon'])}; "
               f"SDK runs (request → last chunk): {', '.join(fmt(n / x['wall_s'], 0) for x in st['sdk'])}.")
    if st.get("raw"):
        out.append(f"- gigachatd with a reader that only counts bytes (no parsing, no printing): "
                   f"{', '.join(fmt(n / x['wall_s'], 0) for x in st['raw'])} chunks/s "
                   f"({fmt(100 * med([n / x['wall_s'] for x in st['raw']]) / med([n / x['wall_s'] for x in bare]), 0)} % "
                   f"of bare), daemon CPU {fmt(med([x['daemon_cpu_s'] for x in st['raw']]) * 1e6 / n, 2)} µs per chunk, "
                   f"{fmt(med([x['bytes'] for x in st['raw']]) / n, 0)} bytes per chunk on the socket.")
    out.append(f"- stream, per run: daemon CPU {', '.join(fmt(x['daemon_cpu_s'] * 1000, 1) for x in st['daemon'])} ms "
               f"(from /proc/PID/stat ticks: {', '.join(fmt(x['daemon_cpu_ticks_s'] * 1000, 0) for x in st['daemon'])} ms), "
               f"gigachatctl CPU {', '.join(fmt(x['client_cpu_s'] * 1000, 1) for x in st['daemon'])} ms, daemon context "
               f"switches per chunk {', '.join(fmt(x['daemon_switches'] / n, 3) for x in st['daemon'])}; "
               f"fake API CPU per chunk: {fmt(med([x['fake_cpu_s'] for x in bare]) * 1e6 / n, 1)} µs (bare), "
               f"{fmt(med([x['fake_cpu_s'] for x in st['daemon']]) * 1e6 / n, 1)} µs (gigachatd), "
               f"{fmt(med([x['fake_cpu_s'] for x in st['sdk']]) * 1e6 / n, 1)} µs (SDK); curl CPU per chunk "
               f"{fmt(med([x['cpu_s'] for x in bare]) * 1e6 / n, 2)} µs.")
    overhead = med(r["stream_request_overhead_s"])
    marginal = med([(x["daemon_cpu_s"] - overhead) * 1e6 / (n - 1) for x in st["daemon"]])
    out.append(f"- daemon CPU for a streamed request of 1 chunk (its fixed cost): {fmt(overhead * 1000, 2)} ms median; "
               f"so the marginal relay cost is {fmt(marginal, 2)} µs per chunk.")
    out.append(f"- SDK stream process: {fmt(med([x['process_wall_s'] for x in st['sdk']]), 2)} s wall and "
               f"{fmt(med([x['process_cpu_s'] for x in st['sdk']]), 2)} s CPU in all (imports, token, warm-up "
               f"request included; the table counts only the stream).")
    cd, cs = r["conc_daemon"], r["conc_sdk"]
    out.append(f"- {c.conc_streams} paced streams: gigachatd latency p50/p90/p99/max "
               f"{'/'.join(fmt(percentile(cd['lat_us'], p) / 1000, 2) for p in (50, 90, 99, 100))} ms over "
               f"{len(cd['lat_us'])} chunks in {fmt(cd['wall_s'], 2)} s; daemon CPU {fmt(cd['daemon']['cpu_s'] * 1000, 0)} ms = "
               f"{fmt(cd['daemon']['cpu_s'] * 1e6 / max(cd['records'], 1), 2)} µs per chunk; lean client CPU "
               f"{fmt(cd['cpu_s'], 2)} s. SDK p50/p90/p99/max "
               f"{'/'.join(fmt(percentile(cs['lat_us'], p) / 1000, 2) for p in (50, 90, 99, 100))} ms in "
               f"{fmt(cs['wall_s'], 2)} s, its CPU {fmt(cs['cpu_s'], 2)} s, peak RSS {fmt(cs['maxrss_kb'] / 1024)} MB.")
    cw, csw = r["conc_daemon_warm"], r["conc_sdk_warm"]
    out.append(f"- the daemon opened {cd['new_connections']} upstream connections in that round (the fake saw "
               f"{cd['max_in_flight']} chats at once). A second round with them already open: gigachatd p50/p90/p99/max "
               f"{'/'.join(fmt(percentile(cw['lat_us'], p) / 1000, 2) for p in (50, 90, 99, 100))} ms "
               f"({cw['new_connections']} new connections, daemon CPU {fmt(cw['daemon']['cpu_s'] * 1e6 / max(cw['records'], 1), 1)} µs "
               f"per chunk, {fmt(cw['records'] / cw['wall_s'], 0)} chunks/s); SDK "
               f"{'/'.join(fmt(percentile(csw['lat_us'], p) / 1000, 2) for p in (50, 90, 99, 100))} ms "
               f"({fmt(csw['records'] / csw['wall_s'], 0)} chunks/s, its CPU {fmt(csw['cpu_s'] * 1e6 / max(csw['records'], 1), 0)} µs per chunk).")
    mem = r["mem"]
    out.append(f"- memory: main daemon idle {fmt(r['idle_rss_kb'] / 1024)} MB ({r['idle_threads']} threads), after the "
               f"runs above {fmt(r['main_rss_after_kb'] / 1024)} MB (VmHWM {fmt(r['main_hwm_kb'] / 1024)} MB). "
               f"Fresh daemon for {c.mem_streams} streams × {c.mem_chunks} chunks paced {c.mem_pace_ms} ms: idle "
               f"{fmt(mem['idle_rss_kb'] / 1024)} MB, sampled peak {fmt(mem['peak_rss_sampled_kb'] / 1024)} MB, VmHWM "
               f"{fmt(mem['hwm_kb'] / 1024)} MB, 1 s after {fmt(mem['rss_after_kb'] / 1024)} MB; the fake saw "
               f"{mem['upstream_max_in_flight']} chats in flight at once.")
    out.append(f"- start-up runs (ms to READY=1): {', '.join(fmt(x, 1) for x in r['startup_ready_ms'])}; "
               f"to accepting: {', '.join(fmt(x, 1) for x in r['startup_accept_ms'])}.")
    out.append(f"- load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in r['load_before'])}, after: "
               f"{' '.join(f'{x:.2f}' for x in r['load_after'])}.")
    return "\n".join(out)


METHOD = """### How it is measured

- Everything talks to `Tests/EndToEnd/fake_gigachat/` on 127.0.0.1 over TLS (test CA), one process
  shared by both columns. Its bench mode (`model: "bench:N:S[:P]"`) streams N chunks of S content bytes,
  the first 16 of which are the send time in µs; unpaced events are written in 16 KiB batches.
- **one-shot**: wall time from spawn to exit of `gigachatctl --socket S chat --no-stream -m GigaChat Hello`
  against a running, authenticated daemon, vs `python -c "from gigachat import GigaChat;
  print(GigaChat().chat('Hello').choices[0].message.content)"` (each process imports the SDK and fetches
  its own token). Bytecode caches are warm for both.
- **stream**: gigachatctl streams the reply to a file; its wall time is spawn → exit (client start-up and
  connection included). The SDK's is timed inside its process from the request to the last chunk, after a
  warm-up request (token and connection ready, imports excluded) — a conservative comparison for us.
  The bare reader is `curl -N` with a valid token, from request sent to the last byte, output discarded.
  Daemon CPU is the sum of its threads' `/proc/PID/task/*/schedstat` run time (cross-checked with
  utime+stime from `/proc/PID/stat`); gigachatctl's is its rusage; the SDK's is `getrusage` around the stream.
  The fake API's own CPU is in neither column.
- **concurrency**: one client process each: for gigachatd a lean asyncio client (one Unix connection per
  stream, `json.loads` per line), for the SDK its async client (`astream`, one `GigaChat` instance).
  Latency = client receive time − send time stamped in the content (same clock), per chunk.
- **memory**: VmRSS/VmHWM from `/proc/PID/status`; "idle" is 1 s after the first token; the 200-stream
  figure is a fresh daemon with `GIGACHAT_MAX_CONNECTIONS=200` (VmHWM, which also covers start-up).
- **start-up**: from just before `Popen` to the `READY=1` datagram on a `NOTIFY_SOCKET` we bound, and to
  the first successful `connect()` on the daemon's socket (polled every ~0.2 ms).
- **OAuth**: counted by the fake from just before the daemon starts through all its one-shot questions;
  for the SDK over its timed one-shot processes, scaled to 100 (one token per process).
"""


def write_report(args: argparse.Namespace, r: Results, outdir: Path, saved: Optional[dict[str, Any]] = None) -> str:
    """Writes REPORT.md (and results.json, unless re-rendering `saved` results)."""
    rows, summary = build_table(r)
    table = render_table(rows)
    m = saved["machine"] if saved else machine()
    v = saved["versions"] if saved else tool_versions(args, r)
    date = saved["date"] if saved else datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    parts = [
        "# gigachatd vs the official GigaChat Python SDK",
        "",
        f"Measured {date}{' (--quick: reduced counts, not the real benchmark)' if args.quick else ''} by "
        "`make bench` (bench/run.py).",
        "",
        f"Machine: {m['nproc']} CPUs, {m['cpu']}, {m['memory']} RAM, Linux {m['kernel']}, {m['os']}.",
        *([f"**Other work was running** (1-minute load average {r['load_before'][0]:.1f} on {m['nproc']} CPUs "
           "when the benchmark started): the figures are noisier than usual."]
          if r["load_before"][0] > 0.5 * (os.cpu_count() or 1) else []),
        "Versions: " + "; ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        table,
        "",
        "Ratio: how many times better gigachatd is (lower time/CPU/memory, higher throughput).",
        "",
        details(r),
        "",
        METHOD,
    ]
    notes = BENCH / "NOTES.md"
    if notes.exists():
        parts += [notes.read_text().rstrip(), ""]
    text = "\n".join(parts) + "\n"
    Path(args.report).write_text(text)
    if not saved:
        with open(outdir / ("results-quick.json" if args.quick else "results.json"), "w") as f:
            json.dump({"date": date, "quick": args.quick, "counts": r.counts.__dict__, "summary": summary,
                       "data": r.data, "machine": m, "versions": v}, f, indent=1, default=str)
    print(table)
    return text


# --------------------------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--run-fake":
        return run_fake(argv[1:])
    if argv and argv[0] == "--raw-reader":
        _raw_reader(argv[1], argv[2], argv[3])
        return 0
    if argv and argv[0] == "--lean-client":
        sock, streams, n, size, pace, out = argv[1:7]
        asyncio.run(_lean_main(sock, int(streams), int(n), int(size), int(pace), out))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=str(ROOT / ".build" / "release"), help="where gigachatd/gigachatctl are")
    ap.add_argument("--venv", default=str(BENCH / ".venv"), help="virtual environment for the SDK (made if missing)")
    ap.add_argument("--report", default=str(BENCH / "REPORT.md"))
    ap.add_argument("--fake-as-is", action="store_true",
                    help="run the fake without TCP_NODELAY (adds up to 40 ms per reply; see run_fake)")
    ap.add_argument("--quick", action="store_true", help="smaller counts, for working on this script")
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: rewrite the report from bench/out/results.json (e.g. after editing NOTES.md)")
    args = ap.parse_args(argv)
    if args.report_only:
        saved = json.loads((BENCH / "out" / "results.json").read_text())
        args.quick = saved.get("quick", False)
        write_report(args, Results(Counts(**saved["counts"]), saved["data"]), BENCH / "out", saved)
        return 0

    outdir = BENCH / "out"
    outdir.mkdir(exist_ok=True)
    for old in outdir.glob("*.log"):
        old.unlink()
    tmp = Path(tempfile.mkdtemp(prefix="gcb-"))  # short: Unix socket paths must fit in 108 bytes
    tmp.chmod(0o700)

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    bench: Optional[Bench] = None
    try:
        bench = Bench(args, tmp, outdir)
        results = bench.run()
        write_report(args, results, outdir)
        log(f"report written to {args.report}")
        return 0
    except BenchError as e:
        log(f"FAILED: {e}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        PROCS.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
