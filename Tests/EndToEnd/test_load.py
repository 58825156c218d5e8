"""Load and soak: many concurrent streams through a bounded upstream, and continuous traffic
through many token expiries.

"With the default PERS limit the fake API never sees two chats at once" is already
test_concurrency.py::test_personal_scope_never_runs_two_chats_at_once; it is not repeated here.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Any

from fake_gigachat import FakeGigaChat, split_text
from harness import Daemon, DaemonFactory, chat_params, wait_until

# --------------------------------------------------------------------------------------------------
# 200 concurrent streams through 50 upstream slots

STREAMS = 200
CHUNKS = 500
CONNECTIONS = 20  # 10 requests in flight on each
SLOTS = 50


def _prompt(k: int) -> str:
    # About 1,000 characters with two-byte UTF-8 in them, so the reply splits into exactly CHUNKS pieces
    # of 2-3 characters, and every stream's text is its own.
    return f"поток {k:03d}: " + "".join(f"{i:03d}·" for i in range(250))


class _StreamReader(threading.Thread):
    """One connection with several streams in flight: sends them all, then reads every line until each id
    has its final response. Deltas after the final, or for unknown ids, are recorded as problems."""

    def __init__(self, d: Daemon, ids: list[int], start: threading.Barrier, deadline: float) -> None:
        super().__init__(daemon=True)
        self.d = d
        self.ids = ids
        self.start_barrier = start
        self.deadline = deadline
        self.deltas: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        self.finals: dict[int, dict[str, Any]] = {}
        self.problems: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:  # reported by the test thread
            self.error = e

    def _run(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(self.d.socket_path))
            payload = b"".join(
                json.dumps({"jsonrpc": "2.0", "id": k, "method": "chat", "params": chat_params(_prompt(k))},
                           ensure_ascii=False).encode() + b"\n"
                for k in self.ids
            )
            self.start_barrier.wait(10)
            sock.sendall(payload)
            buf = bytearray()
            while len(self.finals) < len(self.ids):
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"ids {sorted(set(self.ids) - set(self.finals))} unanswered at the deadline")
                sock.settimeout(remaining)
                chunk = sock.recv(1 << 20)
                if not chunk:
                    raise AssertionError(f"the daemon closed the connection; answered {sorted(self.finals)}")
                buf += chunk
                end = buf.rfind(b"\n")
                if end < 0:
                    continue
                lines = bytes(buf[:end]).split(b"\n")
                del buf[: end + 1]
                for line in lines:
                    self._take(json.loads(line))
        finally:
            sock.close()

    def _take(self, msg: dict[str, Any]) -> None:
        if msg.get("method") == "request.queued":
            k = msg["params"]["id"]
            if k not in self.deltas or k in self.finals:
                self.problems.append(f"a queued notice for an id not waiting here: {msg}")
            return
        if msg.get("method") == "chat.delta":
            k = msg["params"]["id"]
            if k not in self.deltas:
                self.problems.append(f"a delta for an id this connection never sent: {msg}")
            elif k in self.finals:
                self.problems.append(f"a delta for id {k} after its final response")
            else:
                self.deltas[k].append(msg["params"])
        elif "id" in msg:
            k = msg["id"]
            if k in self.finals or k not in self.deltas:
                self.problems.append(f"an extra final response: {str(msg)[:200]}")
            self.finals[k] = msg
        else:
            self.problems.append(f"an unexpected line: {str(msg)[:200]}")


def test_200_concurrent_streams_of_500_chunks_through_50_upstream_slots(
    fake_api: FakeGigaChat, daemon: DaemonFactory
) -> None:
    """200 streams x 500 chunks at once, GIGACHAT_MAX_CONNECTIONS=50: 150 wait in the daemon's queue; every
    chunk arrives once and in order, each final result equals its deltas, and the API never sees more than
    50 chats at once. (About 15-30 s on a loaded 2-core machine.)"""
    fake_api.configure(scope="GIGACHAT_API_B2B", chunks=CHUNKS)
    d = daemon(scope="GIGACHAT_API_B2B", env={"GIGACHAT_MAX_CONNECTIONS": str(SLOTS), "GIGACHAT_TIMEOUT": "20"})
    with d.connect() as warm:
        assert warm.chat("прогрев", stream=False).ok  # the token is there before the rush
    fake_api.reset_stats()
    # Each chat holds its slot 0.3 s before the first byte, so the slots really overlap at the fake even when
    # a loaded machine makes the streams themselves quick; the chunks then come unpaced.
    fake_api.configure(first_byte_delay=0.3)

    # Watch the daemon's own view of the queue while the load runs.
    # (Informative only: with 20 busy reader threads this one may get little of the GIL.)
    observed = {"queued": 0, "in_flight": 0}
    watch_errors: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        try:
            with d.connect(timeout=20) as conn:
                while not stop.is_set():
                    _, final = conn.call("status")
                    requests = final["result"]["requests"]
                    observed["queued"] = max(observed["queued"], requests["queued"])
                    observed["in_flight"] = max(observed["in_flight"], requests["in_flight"])
                    if requests["in_flight"] > SLOTS:
                        watch_errors.append(f"status reported {requests}")
                    stop.wait(0.1)
        except Exception as e:  # noqa: BLE001 - reported below
            watch_errors.append(repr(e))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    per_conn = STREAMS // CONNECTIONS
    barrier = threading.Barrier(CONNECTIONS)
    deadline = time.monotonic() + 45
    readers = [_StreamReader(d, list(range(c * per_conn, (c + 1) * per_conn)), barrier, deadline) for c in range(CONNECTIONS)]
    started = time.monotonic()
    for r in readers:
        r.start()
    for r in readers:
        r.join(max(0.1, deadline - time.monotonic() + 5))
    elapsed = time.monotonic() - started
    stop.set()
    watcher.join(5)

    for r in readers:
        assert not r.is_alive(), "a reader thread is still running after the deadline"
        if r.error is not None:
            raise AssertionError(f"connection for ids {r.ids[0]}..{r.ids[-1]}: {r.error!r}{d.diagnostics()}") from r.error
        assert r.problems == [], r.problems[:5]

    for r in readers:
        for k in r.ids:
            final = r.finals[k]
            assert "result" in final, f"stream {k}: {str(final)[:300]}"
            text = "Echo: " + _prompt(k)
            expected = split_text(text, CHUNKS)
            assert len(expected) == CHUNKS
            deltas = r.deltas[k]
            contents = [p["content"] for p in deltas if p["content"]]
            assert len(contents) == CHUNKS, f"stream {k}: {len(contents)} of {CHUNKS} chunks arrived"
            assert contents == expected, f"stream {k}: chunks out of order, duplicated or mixed with another stream"
            assert deltas[-1].get("finish_reason") == "stop", f"stream {k}: last delta {deltas[-1]}"
            assert all("finish_reason" not in p for p in deltas[:-1]), f"stream {k}: finish_reason before the end"
            content = final["result"]["choices"][0]["message"]["content"]
            assert content == "".join(contents) == text, f"stream {k}: the final result differs from its deltas"

    st = fake_api.state
    assert len(st.chat_requests) == STREAMS, f"the API saw {len(st.chat_requests)} chats for {STREAMS} streams (retries?)"
    assert all(r.status == 200 for r in st.chat_requests)
    assert st.chat_max_in_flight <= SLOTS, f"the API saw {st.chat_max_in_flight} chats at once; the limit is {SLOTS}"
    assert st.chat_max_in_flight > 10, \
        f"only {st.chat_max_in_flight} chats ran at once: GIGACHAT_MAX_CONNECTIONS={SLOTS} did not lift the B2B default of 10"
    assert watch_errors == [], watch_errors

    def idle() -> bool:
        with d.connect() as conn:
            requests = conn.call("status")[1]["result"]["requests"]
        return requests["in_flight"] == 0 and requests["queued"] == 0

    assert wait_until(idle, 3), "the daemon still counts requests in flight or queued after every stream ended"
    print(f"\n{STREAMS} streams x {CHUNKS} chunks in {elapsed:.1f}s; at most {st.chat_max_in_flight} upstream at once, "
          f"up to {observed['queued']} queued")


# --------------------------------------------------------------------------------------------------
# Soak through 20 token expiries


def test_soak_through_20_token_expiries_under_continuous_load(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    """Tokens live 1.5 s and the daemon replaces them 0.5 s before expiry, i.e. every ~1 s. Four clients
    chat without pause until the 21st OAuth call (20 expiries survived): no request fails, the API never
    answers 401, and each expiry costs exactly one OAuth call, never a burst. (About 22 s.)"""
    lifetime, buffer_s, expiries = 1.5, 0.5, 20
    period = lifetime - buffer_s
    fake_api.configure(token_lifetime=lifetime, chunks=3)
    d = daemon(env={"GIGACHAT_TOKEN_EXPIRY_BUFFER_MS": str(int(buffer_s * 1000)), "GIGACHAT_TIMEOUT": "10"})
    assert fake_api.wait_for(lambda st: len(st.oauth_calls) >= 1, timeout=10), "no token at start-up"

    stop = threading.Event()
    failures: list[str] = []
    done = [0] * 4
    last_done = [time.monotonic()]

    def client(i: int) -> None:
        try:
            with d.connect(timeout=10) as conn:
                j = 0
                while not stop.is_set():
                    prompt = f"клиент {i} запрос {j}"
                    out = conn.chat(prompt, stream=j % 2 == 0)
                    if not out.ok or out.content != "Echo: " + prompt or (j % 2 == 0 and out.delta_text != out.content):
                        failures.append(f"client {i} request {j}: {str(out.final)[:300]}")
                    done[i] += 1
                    last_done[0] = time.monotonic()
                    j += 1
        except BaseException as e:  # noqa: BLE001 - reported below
            if not stop.is_set():
                failures.append(f"client {i}: {str(e)[:300]}")

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + expiries * period + 15
    stalled = None
    while len(fake_api.state.oauth_calls) < expiries + 1 and not failures and time.monotonic() < deadline:
        time.sleep(0.1)
        if time.monotonic() - last_done[0] > 3:
            stalled = _diagnose_stall(d, fake_api, time.monotonic() - last_done[0])
            break
    stop.set()
    assert stalled is None, stalled
    for t in threads:
        t.join(15)
    assert not any(t.is_alive() for t in threads), "a client is stuck"
    assert failures == [], f"{len(failures)} failed requests, first: {failures[:3]}{d.diagnostics()}"
    assert len(fake_api.state.oauth_calls) >= expiries + 1, \
        f"only {len(fake_api.state.oauth_calls)} OAuth calls in {expiries * period + 15:.0f}s"

    st = fake_api.state
    times = [c.t for c in st.oauth_calls]
    assert all(c.status == 200 for c in st.oauth_calls)
    assert st.unauthorized == 0, f"the API answered 401 {st.unauthorized} times: an expired token was sent"
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= lifetime / 3, f"OAuth calls only {min(gaps):.3f}s apart: a burst, not one call per expiry ({gaps})"
    span = times[-1] - times[0]
    assert len(times) - 1 <= span / period + 1, \
        f"{len(times)} OAuth calls in {span:.1f}s; one per {period:.1f}s refresh period allows {span / period + 1:.0f}"

    # The load really was continuous across every expiry: each token was used, and the API never went
    # a whole refresh period without a chat.
    chats = st.chat_requests
    assert sum(done) >= 100 and len(chats) == sum(done), (sum(done), len(chats))
    used = {r.token for r in chats}
    unused = [n for n, tok in enumerate(st.issued_tokens[: expiries]) if tok not in used]
    assert unused == [], f"tokens {unused} were never used: the load paused across an expiry"
    chat_times = [r.t for r in chats]
    longest_pause = max(b - a for a, b in zip(chat_times, chat_times[1:]))
    assert longest_pause < period, f"no chat reached the API for {longest_pause:.2f}s during the soak"

    with d.connect() as conn:
        _, status = conn.call("status")
    token = status["result"]["token"]
    assert token["last_error"] is None and token["refreshes"] == len(st.oauth_calls), token
    print(f"\n{sum(done)} requests, {len(times)} OAuth calls over {span:.1f}s, gaps {min(gaps):.2f}-{max(gaps):.2f}s")


def _diagnose_stall(d: Daemon, fake: FakeGigaChat, idle: float) -> str:
    """Why no request has completed for a while: is the daemon still answering status, is it burning CPU,
    what did the API see last?"""
    def cpu() -> float:
        with open(f"/proc/{d.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    before = cpu()
    time.sleep(1.0)
    busy = cpu() - before
    try:
        with d.connect(timeout=3) as conn:
            _, final = conn.call("status")
        status = f"status answers: {final.get('result', final)}"
    except (TimeoutError, OSError, AssertionError) as e:
        status = f"status does not answer either ({type(e).__name__})"
    calls = fake.state.oauth_calls
    last = fake.state.requests[-1] if fake.state.requests else None
    return (
        f"no request completed for {idle:.1f}s; {status}; the daemon used {busy:.2f}s of CPU in the last 1s; "
        f"{len(calls)} OAuth calls so far (the last one {time.monotonic() - calls[-1].t:.1f}s ago, status {calls[-1].status}); "
        f"the API's last request: {last.route if last else None} -> {last.status if last else None}"
        + d.diagnostics()
    )
