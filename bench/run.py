#!/usr/bin/env python3
"""gigachatd against its floors and against the official GigaChat Python SDK, on the same fake API.

    make bench                    # swift build -c release, cc bench/oneshot.c, then this script
    python3 bench/run.py          # uses .build/release/{gigachatd,gigachatctl} as they are
    python3 bench/run.py --bin-dir DIR --quick

What it does, in one run (everything on 127.0.0.1, every loop bounded in count and time, every process
it starts is stopped again, also on error or Ctrl-C):

1. starts the fake API, Tests/EndToEnd/fake_gigachat/ (loopback HTTPS, the end-to-end tests' CA), as
   its own process, so that no client measured here shares a GIL with it;
2. makes (or reuses) a virtual environment with the official SDK (`pip install gigachat`), in
   bench/.venv by default (--venv; GIGACHAT_SDK_SPEC to pin a version);
3. measures start-up, one-shot questions, one fast stream, 50 paced concurrent streams, memory with 200
   streams and OAuth calls for the release gigachatd + gigachatctl, and in the same run the floor of
   each figure (what the least a client must do costs: bench/oneshot.c through the same daemon, curl
   and bare TLS readers straight to the fake) and the SDK doing the same;
4. prints the table (figure, floor, ratio, target, met or missed) and writes it with the details to
   bench/REPORT.md (bench/NOTES.md, hand-written profiling notes, is appended verbatim), and the
   README's table to bench/out/README-table.md. Raw numbers and logs go to bench/out/.

gigachatd is started and spoken to with the end-to-end tests' harness (Tests/EndToEnd/harness.py):
its per-daemon environment, Daemon, RpcConnection and the test PKI.

Numbers are noisy when the machine is busy: the report records the load average before and after, and
the targets are ratios against floors measured in the same run wherever a floor exists.
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
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
FAKE_DIR = ROOT / "Tests" / "EndToEnd"  # the fake API (package fake_gigachat), the harness and the test PKI
CLK_TCK = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, str(FAKE_DIR))
from harness import Daemon, TestEnv, chat_params, merge_env, wait_until  # noqa: E402
from pki import make_test_pki  # noqa: E402

# Targets. Where a floor exists the target is a ratio to it, measured in the same run: absolute figures
# move with the machine and its load, ratios much less.
TARGET_ONESHOT_VS_NATIVE = 1.5  # gigachatctl may add at most half again to a C client's round trip (bench/oneshot.c)
TARGET_ONESHOT_VS_SDK = 50.0  # the point of a daemon: a question without the SDK's imports and token fetch
TARGET_STREAM_PCT = 90.0  # % of a bare reader's chunk rate: the daemon must not be what limits a stream
TARGET_CPU_VS_CURL = 2.0  # relaying a chunk may cost twice what merely reading it costs curl
TARGET_P99_MS = 5.0  # added per-chunk latency nobody watching a stream can notice
TARGET_P99_VS_BARE = 2.0  # and at most twice the tail of readers that talk to the API themselves
TARGET_IDLE_MB = 15.0  # a per-user daemon that is always running must cost little while it waits
TARGET_LOADED_MB = 40.0  # with 200 streams open: each may hold kilobytes, not a TLS context and a CA store
TARGET_READY_MS = 20.0  # socket activation: the first request waits for start-up


# The top of GIGACHAT_MAX_CONNECTIONS' range: streams beyond it wait in the daemon's queue.
DAEMON_MAX_CONNECTIONS = 100


@dataclass
class Counts:
    oneshot_runs: int = 20
    oauth_requests: int = 100  # one-shot questions through the daemon for the OAuth figure
    stream_chunks: int = 20_000
    stream_bytes: int = 16
    stream_repeats: int = 3
    conc_streams: int = 50
    conc_chunks: int = 500
    conc_pace_ms: int = 10
    mem_streams: int = 200  # all open at once; up to DAEMON_MAX_CONNECTIONS of them upstream, the rest queued
    mem_chunks: int = 400  # paced 50 ms: 20 s per stream, so every stream that runs upstream is open
    mem_pace_ms: int = 50  # while the others start, even if opening the upstream connections takes a while
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
        return self.adopt(subprocess.Popen([str(a) for a in argv], **kw))

    def adopt(self, p: subprocess.Popen) -> subprocess.Popen:
        """Registers a process started elsewhere (the harness's Daemon.start)."""
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


def wait_for(pred: Callable[[], bool], timeout: float, what: str,
             diagnostics: Callable[[], str] = lambda: "") -> None:
    """The harness's wait_until, failing the benchmark with what it waited for (and, say, a daemon's stderr)."""
    if not wait_until(pred, timeout):
        raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}{diagnostics()}")


# --------------------------------------------------------------------------------------------------
# The fake API


def run_fake(argv: list[str]) -> int:
    """The fake API with TCP_NODELAY on its accepted connections (`run.py --run-fake ARGS`).

    The fake writes a response's head and body separately, and without TCP_NODELAY Nagle's
    algorithm holds the body back until the client's delayed ACK (40 ms on Linux): every non-streamed
    reply and every paced chunk would wait up to 40 ms in the fake, for any client. The fake now sets
    TCP_NODELAY itself; this wrapper keeps the benchmark's figures independent of that detail.
    """
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
    """The fake API as a process of its own (`python3 -m fake_gigachat`, or this script's --run-fake), with
    the end-to-end tests' PKI; what it listens on comes from its --env-file and --ready-file."""

    def __init__(self, tmp: Path, outdir: Path, as_is: bool = False) -> None:
        self.pki = make_test_pki(tmp / "pki")
        env_file, ready = tmp / "fake.env", tmp / "fake.ready"
        self.log = open(outdir / "fake.log", "wb")
        launcher = ["-m", "fake_gigachat"] if as_is else [Path(__file__).resolve(), "--run-fake"]
        self.proc = PROCS.spawn(
            [sys.executable, *launcher, "--port", "0", "--certdir", self.pki.directory, "--env-file", env_file,
             "--ready-file", ready],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(FAKE_DIR)},
        )
        wait_for(lambda: ready.exists() or self.proc.poll() is not None, 60, "the fake API to listen")
        if self.proc.poll() is not None:
            raise BenchError(f"the fake API exited with {self.proc.returncode}; see bench/out/fake.log")
        self.info = json.loads(ready.read_text())
        self.env: dict[str, str] = {}  # GIGACHAT_*: what a daemon or the SDK needs to use it
        for line in env_file.read_text().splitlines():
            k, sep, v = line.partition("=")
            if sep:
                self.env[k.strip()] = v.strip()
        self.control_url = self.env.pop("FAKE_GIGACHAT_CONTROL_URL")
        self.ca_file = str(self.pki.ca_cert)
        self.ssl = ssl.create_default_context(cafile=self.ca_file)

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
# gigachatd, started with the harness


@dataclass
class Started:
    daemon: Daemon
    ready_ms: float  # process start -> READY=1 on our NOTIFY_SOCKET
    accept_ms: float  # process start -> the first successful connect()


def start_daemon(binary: Path, fake: Fake, tmp: Path, outdir: Path, name: str, max_connections: int,
                 timeout: float = 15.0) -> Started:
    """A harness Daemon in an environment of its own, pointed at the fake, timed from process start to
    READY=1 (sd_notify, on a datagram socket bound here) and to its socket accepting.

    Both are polled in this one thread, READY with select() and the socket every ~0.2 ms: a listener
    thread would stamp the datagram only once it gets the GIL back from the polling loop.
    """
    testenv = TestEnv.create(tmp / name)
    notify_path = testenv.root / "notify"
    env = merge_env(testenv.base(), {**fake.env, "GIGACHAT_MAX_CONNECTIONS": str(max_connections),
                                     "NOTIFY_SOCKET": str(notify_path)})
    sock_path = testenv.default_socket
    d = Daemon(binary, testenv, env, sock_path, ["--socket", str(sock_path), "--log-level", "warning"])
    d.stderr_path = outdir / f"{name}.log"  # kept after the run, with the other outputs (stdout stays empty)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.setblocking(False)
    try:
        t0 = time.perf_counter()
        d.start()
        PROCS.adopt(d.proc)
        ready = accepting = None
        deadline = t0 + timeout
        while (ready is None or accepting is None) and time.perf_counter() < deadline:
            if not d.running:
                raise BenchError(f"gigachatd exited at start{d.diagnostics()}")
            if ready is None:
                r, _, _ = select.select([notify], [], [], 0 if accepting is None else 0.01)
                if r and b"READY=1" in notify.recv(65536).split(b"\n"):
                    ready = time.perf_counter()
            if accepting is None:
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    c.connect(str(sock_path))
                    accepting = time.perf_counter()
                except (FileNotFoundError, ConnectionRefusedError):
                    time.sleep(0.0002)
                finally:
                    c.close()
        if ready is None or accepting is None:
            raise BenchError(f"gigachatd did not become ready within {timeout:.0f} s{d.diagnostics()}")
    finally:
        notify.close()
    return Started(d, (ready - t0) * 1000, (accepting - t0) * 1000)


def wait_token(d: Daemon, timeout: float = 15.0) -> dict[str, Any]:
    """gigachatd's status once it holds a token (so no figure includes fetching the first one)."""
    status: dict[str, Any] = {}

    def has_token() -> bool:
        nonlocal status
        with d.connect() as conn:
            _, final = conn.call("status")
        status = final.get("result") or {}
        return status.get("token", {}).get("refreshes", 0) >= 1 and status.get("state") == "running"

    wait_for(has_token, timeout, "gigachatd's first token", d.diagnostics)
    return status


def stop_daemon(d: Daemon) -> None:
    d.stop(timeout=10.0)
    if d.proc is not None:
        PROCS.stop(d.proc)


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


def ensure_oneshot(binary: Path) -> Path:
    """bench/oneshot.c's binary, built here as `make bench` builds it when it is missing or older than
    its source (a C file: a fraction of a second)."""
    src = BENCH / "oneshot.c"
    if binary.exists() and binary.stat().st_mtime >= src.stat().st_mtime:
        return binary
    cc = os.environ.get("CC", "cc")
    log(f"building {binary} from {src.relative_to(ROOT)} ({cc} -O2)")
    binary.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([cc, "-O2", "-Wall", "-o", str(binary), str(src)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise BenchError(f"cannot build {src}: {r.stderr[-2000:]}")
    return binary


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
# The readers, each run as a process of its own (`run.py --lean-client ...` and so on) so that none
# shares a GIL with this script or the fake


def _take_records(pending: str, c: str, size: int, now: int, lat: list[int]) -> tuple[str, int]:
    """Cuts the bench stream's text into its fixed-size records (however a relay regrouped the deltas) and
    adds each record's latency: receive time minus the send time stamped in its first 16 bytes (µs)."""
    pending += c
    got = 0
    while len(pending) >= size:
        rec, pending = pending[:size], pending[size:]
        lat.append(now - int(rec[:16]))
        got += 1
    return pending, got


def _dump_readers(out: str, res: list[Any], lat: list[int], t0: float, t1: float, r0: Any, r1: Any) -> None:
    with open(out, "w") as f:
        json.dump({"wall_s": t1 - t0, "records": sum(r for r in res if isinstance(r, int)),
                   "errors": [repr(r) for r in res if not isinstance(r, int)], "lat_us": lat,
                   "cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
                   "maxrss_kb": read_status(os.getpid())["VmHWM"]}, f)


async def _lean_main(sock: str, streams: int, n: int, size: int, pace: int, out: str) -> None:
    """Many streams through gigachatd at once: one Unix connection each, json.loads per line."""
    req = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chat",
                      "params": chat_params("go", model=f"bench:{n}:{size}:{pace}")}).encode() + b"\n"
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
                    if c:
                        pending, k = _take_records(pending, c, size, now, lat)
                        got += k
                elif msg.get("id") == 1:
                    if "error" in msg:
                        raise RuntimeError(f"error: {msg['error']}")
                    return got
        finally:
            writer.close()

    await _gather_readers(one, streams, out, lat)


async def _gather_readers(one: Callable[[], Any], streams: int, out: str, lat: list[int]) -> None:
    """Runs `streams` readers at once and writes what they measured, with this process's CPU."""
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    res = await asyncio.gather(*(one() for _ in range(streams)), return_exceptions=True)
    t1 = time.perf_counter()
    _dump_readers(out, res, lat, t0, t1, r0, resource.getrusage(resource.RUSAGE_SELF))


async def _bare_main(base_url: str, ca_file: str, token: str, streams: int, n: int, size: int, pace: int,
                     out: str) -> None:
    """The floor of the lean client: the same streams read straight from the fake API, one TLS connection
    each, json.loads per SSE event; what a program that talks to the API itself gets."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 443
    body = json.dumps({"model": f"bench:{n}:{size}:{pace}", "stream": True,
                       "messages": [{"role": "user", "content": "go"}]}).encode()
    req = (f"POST {url.path.rstrip('/')}/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
           f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    ctx = ssl.create_default_context(cafile=ca_file)
    lat: list[int] = []
    loads = json.loads

    async def one() -> int:
        reader, writer = await asyncio.open_connection(host, port, ssl=ctx, limit=1 << 22)
        try:
            writer.write(req)
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"the fake answered {status!r}")
            while (await reader.readline()).strip():
                pass  # the response head
            got, pending = 0, ""
            while True:
                # Chunked framing wraps whole events, so each SSE data line arrives as one line.
                line = await reader.readline()
                now = time.time_ns() // 1000
                if not line:
                    raise RuntimeError("the fake closed the connection mid-stream")
                if not line.startswith(b"data: "):
                    continue
                if line.startswith(b"data: [DONE]"):
                    return got
                choices = loads(line[6:])["choices"]
                c = choices[0]["delta"].get("content") if choices else None
                if c:
                    pending, k = _take_records(pending, c, size, now, lat)
                    got += k
        finally:
            writer.close()

    await _gather_readers(one, streams, out, lat)


def _raw_reader(sock: str, model: str, out: str) -> None:
    """One streamed chat through gigachatd, reading the bytes without parsing them: what the daemon
    alone can deliver. Only newlines are counted and the response looked for, both at C speed: the daemon
    writes "jsonrpc" then "id" first in every message, so the response is the line that starts so."""
    req = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chat",
                      "params": chat_params("go", model=model)}).encode() + b"\n"
    start = b'\n{"jsonrpc":"2.0","id":1,'
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    t0 = time.perf_counter()
    s.connect(sock)
    s.sendall(req)
    total = lines = 0
    tail = b"\n"  # so that a response on the very first line is found too
    found = -1
    while found < 0:
        data = s.recv(1 << 20)
        if not data:
            raise SystemExit("gigachatd closed the connection before the response")
        total += len(data)
        lines += data.count(b"\n")
        window = tail + data
        found = window.find(start)
        tail = window[-len(start):] if found < 0 else window[found + 1:]
    # The response line carries the whole reply: read to its end.
    while b"\n" not in tail:
        data = s.recv(1 << 20)
        if not data:
            raise SystemExit("gigachatd closed the connection inside the response")
        total += len(data)
        lines += data.count(b"\n")
        tail += data
    t1 = time.perf_counter()
    s.close()
    if tail[len(start) - 1:].startswith(b'"error"'):
        raise SystemExit(f"error: {tail[:500]!r}")
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
        bins = Path(args.bin_dir).resolve()  # the harness starts processes from other folders
        self.gigachatd = bins / "gigachatd"
        self.ctl = bins / "gigachatctl"
        for b in (self.gigachatd, self.ctl):
            if not os.access(b, os.X_OK):
                raise BenchError(f"{b} is missing: run `swift build -c release` first (or `make bench`), "
                                 "or point --bin-dir at built binaries")
        self.native = ensure_oneshot(Path(args.oneshot_bin))
        self.r = Results(self.c)
        self.fake: Optional[Fake] = None
        self.py: Optional[Path] = None
        self.sdk_env: dict[str, str] = {}
        self.client_env: dict[str, str] = {}

    # -- setup
    def setup(self) -> None:
        self.r["load_before"] = os.getloadavg()
        self.py = ensure_venv(Path(self.args.venv))
        self.r["sdk_versions"] = sdk_versions(self.py)
        log("starting the fake API")
        self.fake = Fake(self.tmp, self.out, as_is=self.args.fake_as_is)
        # The SDK, curl and the bare readers get an environment of their own, like each daemon.
        self.client_env = TestEnv.create(self.tmp / "clients").base()
        self.sdk_env = merge_env(self.client_env, {
            **self.fake.env,
            "GIGACHAT_TIMEOUT": "120",
            "GIGACHAT_MODEL": "GigaChat",  # the SDK insists on a model; the daemon defaults to it
        })
        (self.tmp / "sdk_stream.py").write_text(SDK_STREAM)
        (self.tmp / "sdk_concurrent.py").write_text(SDK_CONCURRENT)
        self.token = self.fake.control({"action": "add_token", "lifetime": 7200})["token"]
        # Warm the SDK's bytecode cache so no run pays for compiling it.
        t = run_timed([self.py, "-c", SDK_ONESHOT], self.sdk_env, 120, self.tmp)
        if t.rc != 0 or b"Echo: Hello" not in t.stdout:
            raise BenchError(f"the SDK cannot talk to the fake API: rc {t.rc}\n{t.stderr.decode(errors='replace')}")

    def reader(self, mode: str, *args: Any, env: dict[str, str], what: str) -> dict[str, Any]:
        """Runs one of this script's reader modes as a process and returns what it wrote."""
        res = self.tmp / f"{mode.strip('-')}.json"
        with contextlib.suppress(FileNotFoundError):
            res.unlink()
        t = run_timed([sys.executable, Path(__file__).resolve(), mode, *args, res], env, 300, self.tmp)
        if t.rc != 0:
            raise BenchError(f"{what} failed (rc {t.rc}): {t.stderr.decode(errors='replace')[-3000:]}")
        out = json.loads(res.read_text())
        out["process_cpu_s"] = t.cpu_s
        return out

    # -- 1. start-up
    def startup(self) -> None:
        log(f"start-up: {self.c.startups} daemon starts")
        ready, accept, idle = [], [], []
        for i in range(self.c.startups):
            s = start_daemon(self.gigachatd, self.fake, self.tmp, self.out, f"start{i}", 1)
            ready.append(s.ready_ms)
            accept.append(s.accept_ms)
            wait_token(s.daemon)
            idle.append(read_status(s.daemon.pid).get("VmRSS", 0))
            stop_daemon(s.daemon)
            shutil.rmtree(s.daemon.testenv.root, ignore_errors=True)
        self.r["startup_ready_ms"] = ready
        self.r["startup_accept_ms"] = accept
        self.r["startup_idle_rss_kb"] = idle
        # The floor: a native process that does nothing, from spawn to exit.
        native = []
        for _ in range(self.c.startups):
            t = run_timed([self.native, "-h"], self.client_env, 10, self.tmp)
            if t.rc != 0:
                raise BenchError(f"{self.native} -h: rc {t.rc}")
            native.append(t.wall_s * 1000)
        self.r["startup_native_ms"] = native
        # For the SDK column: the nearest thing it has to "ready" is importing it and making a client.
        walls = []
        for _ in range(3):
            t = run_timed([self.py, "-c", "import gigachat; gigachat.GigaChat()"], self.sdk_env, 60, self.tmp)
            walls.append(t.wall_s * 1000)
        self.r["sdk_import_ms"] = walls

    # -- the main daemon
    def start_main(self) -> Daemon:
        self.fake.reset_stats()
        d = start_daemon(self.gigachatd, self.fake, self.tmp, self.out, "main", self.c.conc_streams).daemon
        st = wait_token(d)
        self.r["daemon_version"] = st.get("version")
        time.sleep(1.0)
        self.r["idle_rss_kb"] = read_status(d.pid)["VmRSS"]
        self.r["idle_threads"] = len(os.listdir(f"/proc/{d.pid}/task"))
        return d

    # -- 2. one-shot and OAuth
    def oneshot(self, d: Daemon) -> None:
        c = self.c
        sock = str(d.socket_path)
        argv = [self.ctl, "--socket", sock, "chat", "--no-stream", "-m", "GigaChat", "Hello"]
        native_argv = [self.native, sock, "GigaChat", "Hello"]  # the same request line, from C
        env = d.testenv.base()
        log(f"one-shot: gigachatctl and bench/oneshot.c x {c.oneshot_runs} each, then gigachatctl up to "
            f"{c.oauth_requests} questions")

        def ask(what: str, cmd: list[Any]) -> Timed:
            t = run_timed(cmd, env, 30, self.tmp)
            if t.rc != 0 or t.stdout != b"Echo: Hello\n":
                raise BenchError(f"{what} failed (rc {t.rc}, printed {t.stdout[:200]!r}): "
                                 f"{t.stderr.decode(errors='replace')[-2000:]}")
            return t

        ask("gigachatctl", argv)  # warm-up: page cache, the daemon's first request
        ask("bench/oneshot.c", native_argv)
        asked = 2
        ours, ours_cpu, native, native_cpu = [], [], [], []
        for i in range(c.oneshot_runs):
            # Alternated, so that drifts in the machine's load touch both alike.
            pair = [("gigachatctl", argv, ours, ours_cpu), ("bench/oneshot.c", native_argv, native, native_cpu)]
            for what, cmd, walls, cpus in (pair if i % 2 == 0 else pair[::-1]):
                t = ask(what, cmd)
                walls.append(t.wall_s * 1000)
                cpus.append(t.cpu_s * 1000)
            asked += 2
        while asked < c.oauth_requests:
            ask("gigachatctl", argv)
            asked += 1
        st = self.fake.state()
        self.r["oauth_daemon"] = st["oauth_calls"]  # since just before the daemon started
        self.r["oauth_daemon_requests"] = asked
        self.r["oneshot_ctl_ms"] = ours
        self.r["oneshot_ctl_cpu_ms"] = ours_cpu
        self.r["oneshot_native_ms"] = native
        self.r["oneshot_native_cpu_ms"] = native_cpu
        self.r["oneshot_ctl_rss_kb"] = peak_rss_via_time(argv, env, self.tmp)
        self.r["oneshot_native_rss_kb"] = peak_rss_via_time(native_argv, env, self.tmp)

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
        sock = str(d.socket_path)
        env = d.testenv.base()
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "raw": [], "daemon": [], "sdk": []}
        # The fake's bench streams are v1 chats (its v2 endpoint knows no bench models): gigachatctl is
        # told --api v1, the readers send the daemon's `chat`.
        ctl_stream = [self.ctl, "--socket", sock, "chat", "--api", "v1", "-m"]
        # The fixed cost of a streamed request (one chunk), for the daemon and for curl, to separate it from
        # the per-chunk cost.
        small, curl_small = [], []
        for _ in range(5):
            d0 = CPUSample.of(d.pid)
            t = run_timed([*ctl_stream, f"bench:1:{size}", "go"], env, 30, self.tmp)
            d1 = CPUSample.of(d.pid)
            if t.rc != 0:
                raise BenchError(f"gigachatctl stream: rc {t.rc}: {t.stderr.decode(errors='replace')[:2000]}")
            small.append(d1.minus(d0)["cpu_s"])
            curl_small.append(self.curl_stream(f"bench:1:{size}")["cpu_s"])
        self.r["stream_request_overhead_s"] = small
        self.r["stream_curl_overhead_s"] = curl_small
        for rep in range(c.stream_repeats):
            log(f"stream {n} x {size} B, round {rep + 1}/{c.stream_repeats}: bare curl, raw reader, gigachatctl, SDK")
            # The floor: curl straight to the fake, output thrown away.
            fake0 = CPUSample.of(self.fake.proc.pid)
            bare = self.curl_stream(model)
            bare["fake_cpu_s"] = CPUSample.of(self.fake.proc.pid).minus(fake0)["cpu_ticks_s"]
            runs["bare"].append(bare)

            # gigachatd with a reader that does not parse: the daemon's own rate.
            d0, fake0 = CPUSample.of(d.pid), CPUSample.of(self.fake.proc.pid)
            raw = self.reader("--raw-reader", sock, model, env=env, what="raw reader")
            d1, fake1 = CPUSample.of(d.pid), CPUSample.of(self.fake.proc.pid)
            dd = d1.minus(d0)
            raw.update(daemon_cpu_s=dd["cpu_s"], daemon_cpu_ticks_s=dd["cpu_ticks_s"], daemon_switches=dd["switches"],
                       fake_cpu_s=fake1.minus(fake0)["cpu_ticks_s"])
            runs["raw"].append(raw)

            # gigachatd + gigachatctl streaming to a file.
            d0, fake0 = CPUSample.of(d.pid), CPUSample.of(self.fake.proc.pid)
            t = run_timed([*ctl_stream, model, "go"], env, 120, self.tmp, hwm=True)
            d1, fake1 = CPUSample.of(d.pid), CPUSample.of(self.fake.proc.pid)
            text = t.stdout.rstrip(b"\n")
            if t.rc != 0 or len(text) != n * size or not text[:16].isdigit():
                raise BenchError(f"gigachatctl stream: rc {t.rc}, {len(text)} bytes of {n * size}: "
                                 f"{t.stderr.decode(errors='replace')[:2000]}")
            dd = d1.minus(d0)
            runs["daemon"].append({"wall_s": t.wall_s, "client_cpu_s": t.cpu_s, "client_maxrss_kb": t.maxrss_kb,
                                   "daemon_cpu_s": dd["cpu_s"], "daemon_cpu_ticks_s": dd["cpu_ticks_s"],
                                   "daemon_switches": dd["switches"], "fake_cpu_s": fake1.minus(fake0)["cpu_ticks_s"]})

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

    def curl_stream(self, model: str) -> dict[str, Any]:
        """One stream read by `curl -sS -N` straight from the fake, output thrown away; its wall time is
        from the request sent to the last byte (curl's own timers), its CPU that of its whole process."""
        body = json.dumps({"model": model, "messages": [{"role": "user", "content": "go"}], "stream": True})
        url = self.fake.env["GIGACHAT_BASE_URL"].rstrip("/") + "/chat/completions"
        t = run_timed(["curl", "-sS", "-N", "--http1.1", "--cacert", self.fake.ca_file,
                       "-H", f"Authorization: Bearer {self.token}", "-H", "Content-Type: application/json",
                       "-H", "Accept: text/event-stream", "--data-binary", body, "-o", "/dev/null",
                       "-w", "%{time_pretransfer} %{time_starttransfer} %{time_total} %{size_download}", url],
                      self.client_env, 120, self.tmp)
        if t.rc != 0:
            raise BenchError(f"curl failed (rc {t.rc}): {t.stderr.decode(errors='replace')}")
        pre, _start, total, size_dl = (float(x) for x in t.stdout.split())
        return {"wall_s": total - pre, "process_wall_s": t.wall_s, "cpu_s": t.cpu_s, "bytes": size_dl}

    # -- 4. concurrent paced streams
    def concurrency(self, d: Daemon) -> None:
        c = self.c
        sock = str(d.socket_path)
        label = f"{c.conc_streams} streams x {c.conc_chunks} chunks paced {c.conc_pace_ms} ms"
        # Twice: the first round also opens the daemon's upstream connections (the table's figure), the
        # second finds them open (in the details). The bare readers open theirs each time, before the
        # first chunk is stamped, so their figure is the same kind in both rounds.
        for rnd in ("", "_warm"):
            log(f"concurrency{rnd}: {label}, bare TLS readers straight to the fake")
            bare = self.reader("--bare-reader", self.fake.env["GIGACHAT_BASE_URL"], self.fake.ca_file, self.token,
                               c.conc_streams, c.conc_chunks, c.stream_bytes, c.conc_pace_ms,
                               env=self.client_env, what="bare readers")
            log(f"concurrency{rnd}: {label}, gigachatd")
            self.fake.reset_stats()
            d0 = CPUSample.of(d.pid)
            ours = self.reader("--lean-client", sock, c.conc_streams, c.conc_chunks, c.stream_bytes, c.conc_pace_ms,
                               env=d.testenv.base(), what="lean client")
            d1 = CPUSample.of(d.pid)
            ours["daemon"] = d1.minus(d0)
            ours["daemon_hwm_kb"] = read_status(d.pid)["VmHWM"]
            st = self.fake.state()
            ours["new_connections"] = st["connections_accepted"] - 1  # minus our own control request
            ours["max_in_flight"] = st["chat_max_in_flight"]
            log(f"concurrency{rnd}: {label}, SDK async client")
            res = self.tmp / "sdkc.json"
            t = run_timed([self.py, self.tmp / "sdk_concurrent.py", c.conc_streams, c.conc_chunks, c.stream_bytes,
                           c.conc_pace_ms, res], self.sdk_env, 300, self.tmp)
            if t.rc != 0:
                raise BenchError(f"SDK concurrent failed (rc {t.rc}): {t.stderr.decode(errors='replace')[-3000:]}")
            sdk = json.loads(res.read_text())
            for name, r in (("bare readers", bare), ("gigachatd", ours), ("SDK", sdk)):
                if r["errors"]:
                    raise BenchError(f"{name}: {len(r['errors'])} streams failed: {r['errors'][:3]}")
                if r["records"] != c.conc_streams * c.conc_chunks:
                    raise BenchError(f"{name}: {r['records']} chunks of {c.conc_streams * c.conc_chunks}")
            self.r[f"conc_bare{rnd}"] = bare
            self.r[f"conc_daemon{rnd}"] = ours
            self.r[f"conc_sdk{rnd}"] = sdk

    # -- 5. memory with 200 streams
    def memory(self) -> None:
        c = self.c
        upstream = min(c.mem_streams, DAEMON_MAX_CONNECTIONS)
        log(f"memory: a fresh daemon (GIGACHAT_MAX_CONNECTIONS={upstream}) with {c.mem_streams} streams")
        s = start_daemon(self.gigachatd, self.fake, self.tmp, self.out, "mem", upstream)
        d = s.daemon
        try:
            wait_token(d)
            time.sleep(1.0)
            idle = read_status(d.pid)
            self.fake.reset_stats()
            samples: list[int] = []
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(0.05):
                    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                        samples.append(read_status(d.pid)["VmRSS"])

            th = threading.Thread(target=sample, daemon=True)
            th.start()
            try:
                lean = self.reader("--lean-client", d.socket_path, c.mem_streams, c.mem_chunks, c.stream_bytes,
                                   c.mem_pace_ms, env=d.testenv.base(), what=f"lean client ({c.mem_streams} streams)")
            finally:
                stop.set()
                th.join(2)
            if lean["errors"]:
                raise BenchError(f"{c.mem_streams} streams: {len(lean['errors'])} failed: {lean['errors'][:3]}")
            after = read_status(d.pid)
            st = self.fake.state()
            time.sleep(1.0)
            settled = read_status(d.pid)
            self.r["mem"] = {"idle_rss_kb": idle["VmRSS"], "peak_rss_sampled_kb": max(samples or [0]),
                             "hwm_kb": after["VmHWM"], "rss_after_kb": settled["VmRSS"],
                             "upstream_max_in_flight": st["chat_max_in_flight"], "records": lean["records"],
                             "wall_s": lean["wall_s"], "ready_ms": s.ready_ms, "accept_ms": s.accept_ms,
                             "max_connections": upstream}
        finally:
            stop_daemon(d)

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
            stop_daemon(d)
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


def times(v: float) -> str:
    """A ratio as a factor: 1.23×, 12.3×, 123×."""
    if v != v or v in (float("inf"), float("-inf")):
        return "—"
    return f"{v:.2f}×" if v < 10 else f"{v:.1f}×" if v < 100 else f"{v:.0f}×"


def ratio(better: float, worse: float) -> str:
    """How many times better gigachatd is: worse / better."""
    if not better or not worse or better != better or worse != worse:
        return "—"
    return times(worse / better)


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


@dataclass
class Row:
    figure: str
    value: str  # gigachatd's
    floor: str = "—"  # the least the same work costs, measured in the same run, and what did it
    ratio: str = "—"  # value against floor (or, for the SDK target, the SDK against gigachatd)
    target: str = "—"
    result: str = ""  # met, **missed**, or empty for a figure without a target
    sdk: str = "—"  # the official SDK doing the same, where it can

    def cells(self) -> list[str]:
        return [self.figure, self.value, self.floor, self.ratio, self.target, self.result, self.sdk]


TARGET_HEAD = ["figure", "gigachatd", "floor", "ratio", "target", "result", "official SDK"]
SDK_HEAD = ["figure", "gigachatd", "official SDK", "ratio"]


def build_tables(r: Results) -> tuple[list[Row], list[list[str]], dict[str, Any]]:
    """The targets table (each figure with its floor), the SDK comparison and a summary for results.json."""
    c = r.counts
    med = statistics.median
    rows: list[Row] = []
    summary: dict[str, Any] = {}

    # One-shot.
    ctl, nat, sdk = med(r["oneshot_ctl_ms"]), med(r["oneshot_native_ms"]), med(r["oneshot_sdk_ms"])
    k = len(r["oneshot_ctl_ms"])
    rows.append(Row(f"one-shot `gigachatctl chat --no-stream`, median of {k} (ms)", fmt(ctl, 1), f"{fmt(nat, 1)} (C client)",
                    times(ctl / nat), f"≤ {TARGET_ONESHOT_VS_NATIVE}×", verdict(ctl / nat <= TARGET_ONESHOT_VS_NATIVE),
                    fmt(sdk, 0)))
    rows.append(Row("one-shot: the SDK's median over gigachatctl's", fmt(ctl, 1), "—", times(sdk / ctl),
                    f"≥ {TARGET_ONESHOT_VS_SDK:.0f}×", verdict(sdk / ctl >= TARGET_ONESHOT_VS_SDK), fmt(sdk, 0)))
    summary.update(oneshot_ctl_ms=ctl, oneshot_native_ms=nat, oneshot_sdk_ms=sdk,
                   oneshot_vs_native=ctl / nat, oneshot_vs_sdk=sdk / ctl)

    # One fast stream.
    n = c.stream_chunks
    st = r["stream"]
    bare_cps = med([n / x["wall_s"] for x in st["bare"]])
    raw_cps = med([n / x["wall_s"] for x in st["raw"]])
    ctl_cps = med([n / x["wall_s"] for x in st["daemon"]])
    sdk_cps = med([n / x["wall_s"] for x in st["sdk"]])
    # Per chunk with each side's fixed cost (a 1-chunk stream: curl's process and handshake, the daemon's
    # request) taken off, so that the floor is what reading a chunk costs curl.
    d_fixed, c_fixed = med(r["stream_request_overhead_s"]), med(r["stream_curl_overhead_s"])
    relay_us = med([(x["daemon_cpu_s"] - d_fixed) * 1e6 / (n - 1) for x in st["raw"]])
    curl_us = med([(x["cpu_s"] - c_fixed) * 1e6 / (n - 1) for x in st["bare"]])
    sdk_us = med([x["cpu_s"] * 1e6 / n for x in st["sdk"]])
    pct = 100 * raw_cps / bare_cps
    label = f"one stream of {n:,} × {c.stream_bytes} B".replace(",", " ")
    rows.append(Row(f"{label} through gigachatd, raw socket reader (chunks/s, median of {len(st['raw'])})",
                    fmt(raw_cps, 0), f"{fmt(bare_cps, 0)} (curl)", f"{pct:.0f} %", f"≥ {TARGET_STREAM_PCT:.0f} %",
                    verdict(pct >= TARGET_STREAM_PCT)))
    rows.append(Row("… read by gigachatctl, spawn → exit (chunks/s)", fmt(ctl_cps, 0), f"{fmt(bare_cps, 0)} (curl)",
                    f"{100 * ctl_cps / bare_cps:.0f} %", sdk=fmt(sdk_cps, 0)))
    rows.append(Row("… daemon CPU per chunk, fixed cost taken off (µs; SDK: its process)", fmt(relay_us, 2),
                    f"{fmt(curl_us, 2)} (curl)",
                    times(relay_us / curl_us), f"≤ {TARGET_CPU_VS_CURL:.0f}×",
                    verdict(relay_us / curl_us <= TARGET_CPU_VS_CURL), fmt(sdk_us, 1)))
    summary.update(bare_cps=bare_cps, raw_cps=raw_cps, ctl_cps=ctl_cps, sdk_cps=sdk_cps, stream_pct=pct,
                   relay_us=relay_us, curl_us=curl_us, relay_vs_curl=relay_us / curl_us)

    # Paced concurrent streams (the round that also opens the daemon's upstream connections).
    cb, cd, cs = r["conc_bare"], r["conc_daemon"], r["conc_sdk"]
    b50, b99 = percentile(cb["lat_us"], 50) / 1000, percentile(cb["lat_us"], 99) / 1000
    d50, d99 = percentile(cd["lat_us"], 50) / 1000, percentile(cd["lat_us"], 99) / 1000
    s50, s99 = percentile(cs["lat_us"], 50) / 1000, percentile(cs["lat_us"], 99) / 1000
    label = f"{c.conc_streams} streams paced {c.conc_pace_ms} ms"
    ok = d99 < TARGET_P99_MS and d99 / b99 <= TARGET_P99_VS_BARE
    rows.append(Row(f"{label}: added latency per chunk p99 (ms)", fmt(d99, 2), f"{fmt(b99, 2)} (bare TLS)",
                    times(d99 / b99), f"< {TARGET_P99_MS:.0f} ms and ≤ {TARGET_P99_VS_BARE:.0f}×", verdict(ok),
                    fmt(s99, 1)))
    rows.append(Row("… p50 (ms)", fmt(d50, 2), f"{fmt(b50, 2)} (bare TLS)", times(d50 / b50), sdk=fmt(s50, 1)))
    summary.update(conc_p99_ms=d99, conc_bare_p99_ms=b99, conc_p50_ms=d50, conc_bare_p50_ms=b50, sdk_conc_p99_ms=s99)

    # Memory: absolute targets, no floor.
    idle_mb = r["idle_rss_kb"] / 1024
    mem = r["mem"]
    loaded_mb = max(mem["hwm_kb"], mem["peak_rss_sampled_kb"]) / 1024
    rows.append(Row("RSS idle (MB)", fmt(idle_mb), target=f"< {TARGET_IDLE_MB:.0f} MB",
                    result=verdict(idle_mb < TARGET_IDLE_MB)))
    queued = f", {mem['max_connections']} of them upstream" if mem.get("max_connections", c.mem_streams) < c.mem_streams else ""
    rows.append(Row(f"peak RSS with {c.mem_streams} concurrent streams{queued} (MB)", fmt(loaded_mb),
                    target=f"< {TARGET_LOADED_MB:.0f} MB", result=verdict(loaded_mb < TARGET_LOADED_MB)))
    summary.update(idle_mb=idle_mb, loaded_mb=loaded_mb)

    # Start-up: the floor is a native process that does nothing.
    ready, accept = med(r["startup_ready_ms"]), med(r["startup_accept_ms"])
    native = med(r["startup_native_ms"])
    imp = med(r["sdk_import_ms"])
    rows.append(Row(f"start-up: process start → READY=1, median of {len(r['startup_ready_ms'])} (ms)", fmt(ready, 1),
                    f"{fmt(native, 1)} (C process)", times(ready / native), f"< {TARGET_READY_MS:.0f} ms",
                    verdict(ready < TARGET_READY_MS), f"{fmt(imp, 0)} (import + client)"))
    rows.append(Row("… process start → socket accepting (ms)", fmt(accept, 1), f"{fmt(native, 1)} (C process)",
                    times(accept / native)))
    summary.update(ready_ms=ready, accept_ms=accept, native_start_ms=native)
    summary["missed"] = [row.figure for row in rows if row.result == verdict(False)]

    # Against the official SDK, as before the floors: how many times better gigachatd is.
    sdk_rows: list[list[str]] = []
    ctl_p90, sdk_p90 = percentile(r["oneshot_ctl_ms"], 90), percentile(r["oneshot_sdk_ms"], 90)
    ctl_cpu, sdk_cpu = med(r["oneshot_ctl_cpu_ms"]), med(r["oneshot_sdk_cpu_ms"])
    sdk_rows.append([f"one-shot question, fresh process, median of {k} (ms)", fmt(ctl, 1), fmt(sdk, 1), ratio(ctl, sdk)])
    sdk_rows.append(["one-shot question, p90 (ms)", fmt(ctl_p90, 1), fmt(sdk_p90, 1), ratio(ctl_p90, sdk_p90)])
    sdk_rows.append(["one-shot question, CPU of the process, median (ms)", fmt(ctl_cpu, 1), fmt(sdk_cpu, 0),
                     ratio(ctl_cpu, sdk_cpu)])
    d_cpu = med([(x["daemon_cpu_s"] + x["client_cpu_s"]) * 10_000 / n for x in st["daemon"]])
    s_cpu = med([x["cpu_s"] * 10_000 / n for x in st["sdk"]])
    ctl_relay_us = med([x["daemon_cpu_s"] * 1e6 / n for x in st["daemon"]])
    sdk_rows.append(["one stream: chunks/s (gigachatctl spawn → exit; SDK request → last chunk)",
                     fmt(ctl_cps, 0), fmt(sdk_cps, 0), ratio(1 / ctl_cps, 1 / sdk_cps)])
    sdk_rows.append(["… CPU s per 10 000 chunks, all client-side processes (daemon + gigachatctl)", fmt(d_cpu, 3),
                     fmt(s_cpu, 3), ratio(d_cpu, s_cpu)])
    sdk_rows.append(["… CPU per chunk (µs): the daemon relaying to gigachatctl; the SDK's process", fmt(ctl_relay_us, 2),
                     fmt(sdk_us, 1), ratio(ctl_relay_us, sdk_us)])
    cd_cps, cs_cps = cd["records"] / cd["wall_s"], cs["records"] / cs["wall_s"]
    label = f"{c.conc_streams} streams × {c.conc_chunks} chunks paced {c.conc_pace_ms} ms"
    sdk_rows.append([f"{label}: total chunks/s", fmt(cd_cps, 0), fmt(cs_cps, 0), ratio(1 / cd_cps, 1 / cs_cps)])
    sdk_rows.append(["… added latency per chunk p50 (ms)", fmt(d50, 2), fmt(s50, 2), ratio(d50, s50)])
    sdk_rows.append(["… added latency per chunk p99 (ms)", fmt(d99, 2), fmt(s99, 2), ratio(d99, s99)])
    ctl_rss = med([x["client_maxrss_kb"] for x in st["daemon"]]) / 1024
    sdk_rss = med([x["maxrss_kb"] for x in st["sdk"]]) / 1024
    sdk_rows.append(["client peak RSS in the stream run (MB): gigachatctl vs the SDK's process", fmt(ctl_rss),
                     fmt(sdk_rss), ratio(ctl_rss, sdk_rss)])
    sdk_rows.append(["ready to answer (ms): daemon start → READY=1; SDK import + client", fmt(ready, 1), fmt(imp, 0),
                     ratio(ready, imp)])
    per100_sdk = r["oauth_sdk"] * 100 / r["oauth_sdk_processes"]
    s_label = (f"{per100_sdk:.0f}" if r["oauth_sdk_processes"] == 100 else
               f"{per100_sdk:.0f} per 100 ({r['oauth_sdk']} in {r['oauth_sdk_processes']} processes)")
    sdk_rows.append([f"OAuth calls for {r['oauth_daemon_requests']} one-shot questions (daemon start included)",
                     str(r["oauth_daemon"]), s_label, ratio(max(r["oauth_daemon"], 1), per100_sdk)])
    summary.update(oauth_daemon=r["oauth_daemon"], oauth_sdk_per_100=per100_sdk)
    return rows, sdk_rows, summary


def render_table(head: list[str], rows: list[list[str]]) -> str:
    """Markdown; the figure column and text columns left-aligned, numbers right-aligned."""
    align = [":---" if h in ("figure", "target", "result") else "---:" for h in head]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def readme_table(rows: list[Row], date: str, m: dict[str, str], quick: bool) -> str:
    """What the README's Performance section shows: when and where, and every figure beside its floor."""
    return "\n".join([
        f"Measured {date} by `make bench`{' --quick (reduced counts)' if quick else ''} on {m['cpu']} "
        f"({m['nproc']} cores), Linux {m['kernel']}. Floors come from the same run; ratios are gigachatd "
        "over the floor (for the SDK row, the SDK over gigachatd).",
        "",
        render_table(TARGET_HEAD, [row.cells() for row in rows]),
        "",
    ])


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
    # The checkout's commit says what the binaries are only when they were built from it: a copy in
    # another --bin-dir is named, with when it was built.
    bins = Path(args.bin_dir).resolve()
    where = ""
    if bins.resolve() != (ROOT / ".build" / "release").resolve():
        with contextlib.suppress(OSError):
            dated = datetime.datetime.fromtimestamp((bins / "gigachatd").stat().st_mtime).astimezone()
            where = f"; binaries from {bins}, gigachatd file dated {dated:%Y-%m-%d %H:%M %Z}"
    v = {"gigachatd": f"{r.get('daemon_version') or '?'} (checkout at git {commit}"
                      f"{', with uncommitted changes' if dirty else ''}{where})",
         "Swift": m.group(1) if m else swift,
         "libcurl": " ".join(x.replace("libcurl/", "") for x in curl[3:5]) if len(curl) > 4 else "?",
         "python (fake, readers)": platform.python_version()}
    for k, val in (r.get("sdk_versions") or {}).items():
        v[f"SDK venv {k}"] = val
    return v


def details(r: Results) -> str:
    c = r.counts
    med = statistics.median
    st = r["stream"]
    n = c.stream_chunks

    def lat(x: dict[str, Any]) -> str:
        return "/".join(fmt(percentile(x["lat_us"], p) / 1000, 2) for p in (50, 90, 99, 100))

    out = ["### Details", ""]
    rss = ""
    if r["oneshot_ctl_rss_kb"] and r["oneshot_sdk_rss_kb"]:
        rss = (f"; peak RSS (GNU time) gigachatctl {fmt(med(r['oneshot_ctl_rss_kb']) / 1024)} MB, C client "
               f"{fmt(med(r['oneshot_native_rss_kb'] or [float('nan')]) / 1024)} MB, SDK "
               f"{fmt(med(r['oneshot_sdk_rss_kb']) / 1024)} MB")
    out.append(f"- one-shot CPU (user+sys) per process, median: gigachatctl {fmt(med(r['oneshot_ctl_cpu_ms']), 1)} ms, "
               f"C client {fmt(med(r['oneshot_native_cpu_ms']), 2)} ms, SDK {fmt(med(r['oneshot_sdk_cpu_ms']), 0)} ms{rss}. "
               f"All {len(r['oneshot_ctl_ms'])} runs (ms), gigachatctl: {', '.join(fmt(x, 1) for x in r['oneshot_ctl_ms'])}; "
               f"C client: {', '.join(fmt(x, 1) for x in r['oneshot_native_ms'])}.")
    out.append(f"- SDK `import gigachat` + `GigaChat()` alone: {fmt(med(r['sdk_import_ms']), 0)} ms median.")
    bare = st["bare"]
    out.append(f"- one stream, chunks/s per round: bare curl (request sent → last byte) "
               f"{', '.join(fmt(n / x['wall_s'], 0) for x in bare)}; raw reader through gigachatd (connect → response) "
               f"{', '.join(fmt(n / x['wall_s'], 0) for x in st['raw'])}; gigachatctl (spawn → exit) "
               f"{', '.join(fmt(n / x['wall_s'], 0) for x in st['daemon'])}; SDK (request → last chunk) "
               f"{', '.join(fmt(n / x['wall_s'], 0) for x in st['sdk'])}.")
    out.append(f"- daemon CPU per chunk, fixed cost included: {', '.join(fmt(x['daemon_cpu_s'] * 1e6 / n, 2) for x in st['raw'])} µs with the "
               f"raw reader (from /proc/PID/stat ticks: {', '.join(fmt(x['daemon_cpu_ticks_s'] * 1e6 / n, 1) for x in st['raw'])}), "
               f"{', '.join(fmt(x['daemon_cpu_s'] * 1e6 / n, 2) for x in st['daemon'])} µs with gigachatctl; context "
               f"switches per chunk {', '.join(fmt(x['daemon_switches'] / n, 3) for x in st['raw'])}; "
               f"{fmt(med([x['bytes'] for x in st['raw']]) / n, 0)} bytes per chunk on the socket. curl: "
               f"{', '.join(fmt(x['cpu_s'] * 1e6 / n, 2) for x in bare)} µs per chunk (its whole process, "
               f"{fmt(med([x['bytes'] for x in bare]) / n, 0)} bytes per chunk over TLS). gigachatctl CPU "
               f"{', '.join(fmt(x['client_cpu_s'] * 1000, 1) for x in st['daemon'])} ms per stream; raw reader "
               f"{', '.join(fmt(x['process_cpu_s'] * 1000, 1) for x in st['raw'])} ms.")
    out.append(f"- fake API CPU per chunk: {fmt(med([x['fake_cpu_s'] for x in bare]) * 1e6 / n, 1)} µs (curl), "
               f"{fmt(med([x['fake_cpu_s'] for x in st['raw']]) * 1e6 / n, 1)} µs (raw reader), "
               f"{fmt(med([x['fake_cpu_s'] for x in st['daemon']]) * 1e6 / n, 1)} µs (gigachatctl), "
               f"{fmt(med([x['fake_cpu_s'] for x in st['sdk']]) * 1e6 / n, 1)} µs (SDK).")
    out.append(f"- fixed cost of a streamed request of 1 chunk, taken off the per-chunk CPU in the table: daemon "
               f"{fmt(med(r['stream_request_overhead_s']) * 1000, 2)} ms, curl (process, TLS handshake) "
               f"{fmt(med(r['stream_curl_overhead_s']) * 1000, 2)} ms (medians of {len(r['stream_request_overhead_s'])}).")
    out.append(f"- SDK stream process: {fmt(med([x['process_wall_s'] for x in st['sdk']]), 2)} s wall and "
               f"{fmt(med([x['process_cpu_s'] for x in st['sdk']]), 2)} s CPU in all (imports, token, warm-up "
               f"request included; the tables count only the stream).")
    cb, cd, cs = r["conc_bare"], r["conc_daemon"], r["conc_sdk"]
    out.append(f"- {c.conc_streams} streams × {c.conc_chunks} chunks paced {c.conc_pace_ms} ms, latency p50/p90/p99/max: "
               f"bare TLS readers {lat(cb)} ms (their CPU {fmt(cb['cpu_s'], 2)} s); gigachatd {lat(cd)} ms over "
               f"{len(cd['lat_us'])} chunks in {fmt(cd['wall_s'], 2)} s, daemon CPU {fmt(cd['daemon']['cpu_s'] * 1000, 0)} ms = "
               f"{fmt(cd['daemon']['cpu_s'] * 1e6 / max(cd['records'], 1), 2)} µs per chunk, lean client CPU "
               f"{fmt(cd['cpu_s'], 2)} s; SDK {lat(cs)} ms in {fmt(cs['wall_s'], 2)} s, its CPU {fmt(cs['cpu_s'], 2)} s, "
               f"peak RSS {fmt(cs['maxrss_kb'] / 1024)} MB.")
    cbw, cw, csw = r["conc_bare_warm"], r["conc_daemon_warm"], r["conc_sdk_warm"]
    out.append(f"- the daemon opened {cd['new_connections']} upstream connections in that round (the fake saw "
               f"{cd['max_in_flight']} chats at once). A second round with them already open: bare {lat(cbw)} ms; "
               f"gigachatd {lat(cw)} ms ({cw['new_connections']} new connections, daemon CPU "
               f"{fmt(cw['daemon']['cpu_s'] * 1e6 / max(cw['records'], 1), 1)} µs per chunk, "
               f"{fmt(cw['records'] / cw['wall_s'], 0)} chunks/s, p99 {times(percentile(cw['lat_us'], 99) / percentile(cbw['lat_us'], 99))} "
               f"the bare readers'); SDK {lat(csw)} ms ({fmt(csw['records'] / csw['wall_s'], 0)} chunks/s, its CPU "
               f"{fmt(csw['cpu_s'] * 1e6 / max(csw['records'], 1), 0)} µs per chunk).")
    mem = r["mem"]
    out.append(f"- memory: main daemon idle {fmt(r['idle_rss_kb'] / 1024)} MB ({r['idle_threads']} threads), after the "
               f"runs above {fmt(r['main_rss_after_kb'] / 1024)} MB (VmHWM {fmt(r['main_hwm_kb'] / 1024)} MB). "
               f"Fresh daemon (GIGACHAT_MAX_CONNECTIONS={mem.get('max_connections', c.mem_streams)}) for "
               f"{c.mem_streams} streams × {c.mem_chunks} chunks paced {c.mem_pace_ms} ms in {fmt(mem['wall_s'], 1)} s: idle "
               f"{fmt(mem['idle_rss_kb'] / 1024)} MB, sampled peak {fmt(mem['peak_rss_sampled_kb'] / 1024)} MB, VmHWM "
               f"{fmt(mem['hwm_kb'] / 1024)} MB, 1 s after {fmt(mem['rss_after_kb'] / 1024)} MB; the fake saw "
               f"{mem['upstream_max_in_flight']} chats in flight at once.")
    out.append(f"- start-up runs (ms to READY=1): {', '.join(fmt(x, 1) for x in r['startup_ready_ms'])}; "
               f"to accepting: {', '.join(fmt(x, 1) for x in r['startup_accept_ms'])}; the C process (spawn → exit): "
               f"{', '.join(fmt(x, 1) for x in r['startup_native_ms'])}.")
    out.append(f"- load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in r['load_before'])}, after: "
               f"{' '.join(f'{x:.2f}' for x in r['load_after'])}.")
    return "\n".join(out)


METHOD = """### How it is measured

- Everything talks to `Tests/EndToEnd/fake_gigachat/` on 127.0.0.1 over TLS (the end-to-end tests' CA), one
  process of its own shared by all columns. Its bench mode (`model: "bench:N:S[:P]"`, v1 chat) streams N
  chunks of S content bytes, the first 16 of which are the send time in µs; unpaced events are written in
  16 KiB batches. Each gigachatd is a `Daemon` of the end-to-end harness in an environment of its own.
- **floors** are measured in the same run, right next to the figure: the least the same work costs.
  One-shot: `bench/oneshot.c` (built by `make bench`), a C client that sends gigachatctl's request line
  to the same daemon and prints the reply. Stream: `curl -sS -N` straight to the fake, from request sent to
  the last byte (its CPU: its whole process's, less that of a 1-chunk stream). Paced streams: as many
  bare TLS readers (Python asyncio, one connection each, `json.loads` per event, like the lean client)
  straight to the fake. Start-up: the C client spawned to print its usage and exit. Memory has no floor.
- **one-shot**: wall time from spawn to exit of `gigachatctl --socket S chat --no-stream -m GigaChat Hello`
  against a running, authenticated daemon, alternating with the C client; vs `python -c "from gigachat
  import GigaChat; print(GigaChat().chat('Hello').choices[0].message.content)"` (each process imports the
  SDK and fetches its own token). Bytecode caches are warm for both.
- **stream**: the target's figure is a reader that connects to the daemon, sends `chat` and counts bytes
  and newlines until the response (no parsing): connect → response. gigachatctl (`--api v1`) streams the
  reply to a file; its wall time is spawn → exit (client start-up and connection included). The SDK's is
  timed inside its process from the request to the last chunk, after a warm-up request (token and
  connection ready, imports excluded) — a conservative comparison for us. Daemon CPU is the sum of its
  threads' `/proc/PID/task/*/schedstat` run time (cross-checked with utime+stime from `/proc/PID/stat`);
  gigachatctl's and curl's are their rusage; the SDK's is `getrusage` around the stream. In the target's
  row the daemon's and curl's fixed costs (a 1-chunk stream's: the request, curl's process and TLS
  handshake) are taken off before dividing by the chunks. The fake API's own CPU is in no column.
- **concurrency**: one client process each: the bare readers; for gigachatd a lean asyncio client (one Unix
  connection per stream, `json.loads` per line); for the SDK its async client (`astream`, one `GigaChat`
  instance). Latency = client receive time − send time stamped in the content (same clock), per chunk.
- **memory**: VmRSS/VmHWM from `/proc/PID/status`; "idle" is 1 s after the first token; the 200-stream
  figure is a fresh daemon with all 200 client connections open at once and `GIGACHAT_MAX_CONNECTIONS=100`
  (the top of its range): 100 streams run upstream, the others wait in the daemon's queue and run as those
  end (VmHWM, which also covers start-up, or the highest RSS sampled every 50 ms).
- **start-up**: from just before spawning to the `READY=1` datagram on a `NOTIFY_SOCKET` bound by the
  benchmark, and to the first successful `connect()` on the daemon's socket (polled every ~0.2 ms).
- **OAuth**: counted by the fake from just before the daemon starts through all its one-shot questions
  (gigachatctl's and the C client's); for the SDK over its timed one-shot processes, scaled to 100 (one
  token per process).
"""


def write_report(args: argparse.Namespace, r: Results, outdir: Path, saved: Optional[dict[str, Any]] = None) -> str:
    """Writes REPORT.md and bench/out/README-table.md (and results.json, unless re-rendering `saved` results)."""
    try:
        rows, sdk_rows, summary = build_tables(r)
        more = details(r)
    except KeyError as e:
        raise BenchError(f"the results lack {e}: they are from an older bench/run.py; run the benchmark again")
    table = render_table(TARGET_HEAD, [row.cells() for row in rows])
    m = saved["machine"] if saved else machine()
    v = saved["versions"] if saved else tool_versions(args, r)
    date = saved["date"] if saved else datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    parts = [
        "# gigachatd against its floors and the official GigaChat Python SDK",
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
        "### Targets",
        "",
        table,
        "",
        "Floor: the least the same work costs, measured in this run (C client: bench/oneshot.c through the same "
        "daemon; curl and bare TLS: readers straight to the fake API; C process: a native program's spawn → "
        "exit). Ratio: gigachatd over its floor, or % of the floor's rate; for the SDK row, the SDK over "
        "gigachatd. A figure without a target is there to explain its neighbour.",
        "",
        "### Against the official SDK",
        "",
        render_table(SDK_HEAD, sdk_rows),
        "",
        "Ratio: how many times better gigachatd is (lower time/CPU/memory, higher throughput).",
        "",
        more,
        "",
        METHOD,
    ]
    notes = BENCH / "NOTES.md"
    if notes.exists():
        parts += [notes.read_text().rstrip(), ""]
    text = "\n".join(parts) + "\n"
    Path(args.report).write_text(text)
    outdir.mkdir(exist_ok=True)
    (outdir / "README-table.md").write_text(readme_table(rows, date, m, args.quick))
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
    if argv and argv[0] == "--bare-reader":
        base_url, ca_file, token, streams, n, size, pace, out = argv[1:9]
        asyncio.run(_bare_main(base_url, ca_file, token, int(streams), int(n), int(size), int(pace), out))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", "--build-dir", dest="bin_dir",
                    default=os.environ.get("BENCH_BIN_DIR") or str(ROOT / ".build" / "release"),
                    help="where gigachatd and gigachatctl are (default: $BENCH_BIN_DIR, else .build/release); "
                         "a copy keeps a rebuild from swapping them mid-run")
    ap.add_argument("--oneshot-bin", default=str(BENCH / "out" / "oneshot"),
                    help="the C client built from bench/oneshot.c (built there if missing or stale)")
    ap.add_argument("--venv", default=str(BENCH / ".venv"), help="virtual environment for the SDK (made if missing)")
    ap.add_argument("--report", default=str(BENCH / "REPORT.md"))
    ap.add_argument("--fake-as-is", action="store_true",
                    help="run the fake without TCP_NODELAY (adds up to 40 ms per reply; see run_fake)")
    ap.add_argument("--quick", action="store_true", help="smaller counts, for working on this script")
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: rewrite the report from bench/out/results.json (results-quick.json "
                         "with --quick), e.g. after editing NOTES.md")
    args = ap.parse_args(argv)
    if args.report_only:
        try:
            saved = json.loads((BENCH / "out" / ("results-quick.json" if args.quick else "results.json")).read_text())
            args.quick = saved.get("quick", False)
            write_report(args, Results(Counts(**saved["counts"]), saved["data"]), BENCH / "out", saved)
        except (OSError, BenchError) as e:
            log(f"FAILED: {e}")
            return 1
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
