"""`gigachatctl usage` and `gigachatctl log` over gigachatd's usage ledger: a few
real requests through the daemon and the fake API, then the sums by every grouping as a table, JSON and
CSV, use against a budget, the log with its filters, and `log --follow` seeing a new request.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import select
import signal
import time
from typing import Any

import pytest

from fake_gigachat import FakeGigaChat
from harness import CtlResult, DaemonFactory

FIELDS = ["requests", "input_tokens", "cached_tokens", "output_tokens", "total_tokens", "errors", "queue_wait_ms"]


def some_requests(run_ctl: Any) -> None:
    """Three good chats (two v2, one v1), a token count, and one that fails upstream (404)."""
    for args in (("chat", "раз"), ("chat", "--api", "v1", "два"), ("chat", "--no-stream", "три"), ("tokens", "четыре")):
        assert run_ctl(*args).returncode == 0
    assert run_ctl("chat", "-m", "GigaChat-Nonexistent", "пять").returncode == 1


def summary(run_ctl: Any, *args: str) -> dict[str, Any]:
    r = run_ctl("usage", "--json", *args)
    assert r.returncode == 0 and r.stderr == "", r
    (line,) = r.stdout.splitlines()
    return json.loads(line)["result"]


def upstream_tokens(fake: FakeGigaChat) -> int:
    """total_tokens of every chat the fake answered (the 404 has none)."""
    total = 0
    for rec in fake.state.v2_chat_requests + fake.state.chat_requests:
        if rec.usage:
            total += rec.usage["total_tokens"]
    return total


def table_rows(r: CtlResult) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in r.stdout.splitlines() if line.strip()]


def test_usage_by_day_model_method_and_client(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    some_requests(run_ctl)
    day = summary(run_ctl)
    assert day["group_by"] == "day" and len(day["rows"]) == 1
    totals = day["totals"]
    assert totals["requests"] == 5 and totals["errors"] == 1
    chat_tokens = upstream_tokens(fake_api)
    assert totals["total_tokens"] >= chat_tokens > 0

    r = run_ctl("usage")
    assert r.returncode == 0 and r.stderr == "", r
    header, row = table_rows(r)
    assert header == ["DAY", "REQUESTS", "INPUT", "CACHED", "OUTPUT", "TOTAL", "ERRORS", "WAIT"]
    assert row[0] == day["rows"][0]["key"] and row[1:7] == [str(totals[k]) for k in FIELDS[:6]], r

    methods = {row["key"]: row for row in summary(run_ctl, "--by", "method")["rows"]}
    assert methods["chat.create"]["requests"] == 3 and methods["chat"]["requests"] == 1
    assert methods["tokens.count"]["requests"] == 1
    assert "usage.summary" not in methods, "reading the ledger is not a request"
    r = run_ctl("usage", "--by", "method")
    assert r.stdout.splitlines()[0].split()[0] == "METHOD" and r.stdout.splitlines()[-1].split()[0] == "total", r

    models = {row["key"]: row for row in summary(run_ctl, "--by", "model")["rows"]}
    assert models["GigaChat"]["requests"] == 3 and models["GigaChat-Nonexistent"]["errors"] == 1
    assert models[None]["requests"] == 1, "tokens.count names no model"
    r = run_ctl("usage", "--by", "model")
    assert any(line.split()[:2] == ["-", "1"] for line in r.stdout.splitlines()), r

    clients = summary(run_ctl, "--by", "client")["rows"]
    assert len(clients) == 1 and clients[0]["key"].endswith("gigachatctl") and clients[0]["requests"] == 5, clients

    units = summary(run_ctl, "--by", "unit")
    assert sum(row["requests"] for row in units["rows"]) == 5


def test_usage_csv(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    some_requests(run_ctl)
    expected = {row["key"]: row for row in summary(run_ctl, "--by", "method")["rows"]}
    r = run_ctl("usage", "--csv", "--by", "method")
    assert r.returncode == 0, r
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["method"] + FIELDS
    assert {row[0]: row[1:] for row in rows[1:]} == {key: [str(row[f]) for f in FIELDS] for key, row in expected.items()}
    assert run_ctl("usage", "--csv", "--json").returncode == 64


def test_usage_window(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    some_requests(run_ctl)
    assert summary(run_ctl, "--since", "7d")["totals"]["requests"] == 5
    assert summary(run_ctl, "--since", "today")["totals"]["requests"] == 5
    before = summary(run_ctl, "--until", "2000-01-01")
    assert before["rows"] == [] and before["until"].startswith("2000-01-01T00:00:00")
    assert summary(run_ctl, "--since", str(int(time.time() * 1000) + 3_600_000))["rows"] == []
    r = run_ctl("usage", "--until", "2000-01-01")
    assert r.returncode == 0 and "No requests in this period." in r.stdout, r
    r = run_ctl("usage", "--since", "last tuesday")
    assert r.returncode == 64 and "since" in r.stderr, r
    r = run_ctl("usage", "--by", "colour")
    assert r.returncode == 64, r


def test_usage_against_a_budget(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon(env={"GIGACHATD_BUDGETS": '{"default":{"daily_tokens":1000000,"daily_requests":5}}'})
    some_requests(run_ctl)
    (budget,) = summary(run_ctl)["budgets"]
    assert budget["budget"] == "default" and budget["daily_requests"] == 5 and budget["used_requests"] == 5
    r = run_ctl("usage")
    lines = r.stdout.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("BUDGET")))
    row = re.split(r"\s{2,}", lines[at + 1].strip())
    assert row[0] == "default" and row[2] == "5 of 5 (100%)", r
    assert row[1].endswith("of 1000000 (0%)"), r
    # The budget is used up: the sixth request is refused before it goes upstream.
    assert run_ctl("chat", "ещё").returncode == 8


def test_log_latest_and_filters(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    some_requests(run_ctl)
    r = run_ctl("log", "--json")
    entries = json.loads(r.stdout)["result"]["entries"]
    assert [e["method"] for e in entries] == ["chat.create", "tokens.count", "chat.create", "chat", "chat.create"]

    r = run_ctl("log", "-n", "2")
    assert r.returncode == 0 and r.stderr == "", r
    header, older, newest = r.stdout.splitlines()
    assert header.split() == ["TIME", "CLIENT", "METHOD", "MODEL", "IN", "CACHED", "OUT", "WAIT", "TOOK", "OUTCOME"]
    assert "tokens.count" in older and newest.endswith("error -32003") and "GigaChat-Nonexistent" in newest, r
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ", newest), newest
    first = entries[-1]
    client = first["client"]["unit"] if (first["client"]["unit"] or "").endswith(".service") else first["client"]["name"]
    assert client in newest and client.startswith(("gigachatctl", first["client"]["unit"] or "gigachatctl"))

    r = run_ctl("log", "--outcome", "error")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 2 and "-32003" in r.stdout, r
    r = run_ctl("log", "--json", "--model", "GigaChat", "--outcome", "ok")
    assert len(json.loads(r.stdout)["result"]["entries"]) == 3
    r = run_ctl("log", "--json", "--client", "gigachatctl", "-n", "3")
    assert len(json.loads(r.stdout)["result"]["entries"]) == 3
    r = run_ctl("log", "--client", "nobody")
    assert r.returncode == 0 and "No requests." in r.stdout, r
    r = run_ctl("log", "--json", "--since", "2000-01-01")
    assert len(json.loads(r.stdout)["result"]["entries"]) == 5
    for bad in (("-n", "0"), ("-n", "1001"), ("--outcome", "maybe")):
        assert run_ctl("log", *bad).returncode == 64


class Lines:
    """A child's stdout read line by line, each with a deadline (select on the descriptor itself:
    a buffered file object would hide what it has read ahead)."""

    def __init__(self, stream: Any) -> None:
        self.fd = stream.fileno()
        self.buffer = b""

    def next(self, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no complete line within {timeout} s (got {self.buffer!r})"
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                chunk = os.read(self.fd, 65536)
                assert chunk, f"the output ended (got {self.buffer!r})"
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()


@pytest.mark.parametrize("json_output", [False, True], ids=["table", "json"])
def test_log_follow_sees_new_requests(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, ctl_popen: Any, json_output: bool
) -> None:
    daemon()
    assert run_ctl("chat", "первый").returncode == 0
    follower = ctl_popen("log", "-f", "-n", "5", *(("--json",) if json_output else ()))
    lines = Lines(follower.stdout)
    if json_output:
        first = json.loads(lines.next())
        assert first["method"] == "chat.create" and first["outcome"] == "ok"
    else:
        assert lines.next().split()[0] == "TIME"
        assert "chat.create" in lines.next()
    assert run_ctl("tokens", "второй").returncode == 0
    assert run_ctl("chat", "-m", "GigaChat-Nonexistent", "третий").returncode == 1
    if json_output:
        second, third = json.loads(lines.next()), json.loads(lines.next())
        assert second["method"] == "tokens.count" and third["error_code"] == -32003 and third["id"] > second["id"] > first["id"]
    else:
        assert "tokens.count" in lines.next()
        assert lines.next().rstrip().endswith("error -32003")
    follower.send_signal(signal.SIGINT)
    assert follower.wait(5) == 0, "Ctrl-C is how following ends"
    assert lines.buffer == b"" and follower.stdout.read() == b""
