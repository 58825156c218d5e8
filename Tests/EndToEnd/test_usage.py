"""The usage ledger through the real daemon: one correct row per request, whatever way it ends, named
after the process that sent it; budgets refuse before anything goes upstream; priorities order the queue;
a ledger that cannot be written never fails a request.

| behaviour | test |
| --- | --- |
| a chat leaves one row: method, tokens, model, outcome ok, client pid and name | test_a_chat_leaves_one_row_with_its_tokens_and_client |
| each error class, cancel, a partial stream, a client that leaves: their outcome and code | test_every_ending_leaves_one_row |
| status, cancel and usage.* leave no row | test_looking_at_the_daemon_is_not_usage |
| a separate gigachatctl process is named as the client | test_rows_name_the_process_that_sent_them |
| usage.summary groups by method and model | test_summary_groups_rows |
| a daily request budget refuses with -32015 and sends nothing upstream | test_a_used_up_budget_refuses_before_going_upstream |
| an interactive request goes ahead of queued batch requests | test_interactive_requests_go_first |
| a ledger that cannot be written: requests work, status says why | test_a_broken_ledger_never_fails_a_request |
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

from fake_gigachat import FakeGigaChat
from harness import CtlResult, DaemonFactory, TestEnv, chat_params, wait_until


def _log(conn: Any, **params: Any) -> list[dict[str, Any]]:
    final = conn.call("usage.log", {"limit": 100, **params})[1]
    assert "result" in final, final
    return final["result"]["entries"]


def test_a_chat_leaves_one_row_with_its_tokens_and_client(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        out = conn.chat("сколько токенов?", stream=True)
        assert out.ok, out.final
        rows = _log(conn)
    assert len(rows) == 1, rows
    row = rows[0]
    usage = out.result["usage"]
    assert row["method"] == "chat" and row["contract"] == "v1" and row["outcome"] == "ok"
    assert row["endpoint"] == "/chat/completions"
    assert row["input_tokens"] == usage["prompt_tokens"] and row["output_tokens"] == usage["completion_tokens"]
    assert row["total_tokens"] == usage["total_tokens"]
    assert row["model"] == "GigaChat" and row["model_answered"] == out.result["model"]
    assert row["client"]["pid"] == os.getpid()
    assert row["client"]["name"] == Path("/proc/self/comm").read_text().strip()
    assert row["client"]["executable"] == os.path.realpath(f"/proc/{os.getpid()}/exe")


def test_every_ending_leaves_one_row(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "0"})
    with d.connect() as conn:
        assert conn.chat("прогрев", stream=False).ok
        fake_api.inject("chat", "status", status=500)
        assert conn.chat("ошибка", stream=False).error["code"] == -32003
        fake_api.inject("chat", "payment_required")
        assert conn.chat("денег нет", stream=False).error["code"] == -32013
        fake_api.inject("chat", "reset_after", chunks=2)
        partial = conn.chat("оборвётся", stream=True)
        assert partial.error["data"]["partial"] is True
        fake_api.configure(chunk_interval=0.3, chunks=8)
        rid = conn.request("chat", chat_params("отменю", stream=True), id="to-cancel")
        assert wait_until(lambda: fake_api.state.chat_in_flight == 1, 5)
        assert conn.call("cancel", {"id": "to-cancel"})[1]["result"]["cancelled"] is True
        assert conn.collect(rid).error["code"] == -32800
    # A client that leaves mid-stream.
    leaver = d.connect()
    leaver.request("chat", chat_params("уйду", stream=True), id=1)
    assert wait_until(lambda: fake_api.state.chat_in_flight == 1, 5)
    leaver.close()
    with d.connect() as conn:
        assert wait_until(lambda: len(_log(conn)) == 6, 10), _log(conn)
        rows = list(reversed(_log(conn)))
    assert [(r["outcome"], r["error_code"]) for r in rows] == [
        ("ok", None), ("error", -32003), ("error", -32013), ("partial", -32005), ("cancelled", -32800), ("cancelled", -32800),
    ], rows
    assert rows[3]["output_tokens"] >= 0 and rows[3]["method"] == "chat"


def test_looking_at_the_daemon_is_not_usage(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        conn.call("status")
        conn.call("cancel", {"id": 99})
        conn.call("usage.summary", {})
        assert _log(conn) == []
        assert conn.call("models")[1].get("result")
        rows = _log(conn)
    assert [r["method"] for r in rows] == ["models"]
    assert rows[0]["endpoint"] == "/models"


def test_rows_name_the_process_that_sent_them(fake_api: FakeGigaChat, daemon: DaemonFactory,
                                               run_ctl: Callable[..., CtlResult], gigachatctl_bin: Path) -> None:
    d = daemon()
    r = run_ctl("chat", "--no-stream", "кто я?")
    assert r.returncode == 0, r
    with d.connect() as conn:
        rows = _log(conn)
    assert len(rows) == 1, rows
    assert rows[0]["client"]["name"] == "gigachatctl"
    assert rows[0]["client"]["executable"] == os.path.realpath(gigachatctl_bin)
    assert rows[0]["client"]["pid"] != os.getpid()


def test_summary_groups_rows(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        for _ in range(3):
            assert conn.chat("раз", stream=False).ok
        assert conn.call("embeddings", {"input": "текст"})[1].get("result")
        final = conn.call("usage.summary", {"group_by": "method"})[1]
    rows = {row["key"]: row for row in final["result"]["rows"]}
    assert rows["chat"]["requests"] == 3 and rows["embeddings"]["requests"] == 1
    assert final["result"]["totals"]["requests"] == 4


def test_a_used_up_budget_refuses_before_going_upstream(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(env={"GIGACHATD_BUDGETS": '{"default":{"daily_requests":2}}'})
    with d.connect() as conn:
        assert conn.chat("один", stream=False).ok
        assert conn.chat("два", stream=False).ok
        sent = len(fake_api.state.chat_requests)
        out = conn.chat("три", stream=False)
        assert out.error["code"] == -32015, out.final
        assert out.error["data"]["budget"] == "default" and "resets at" in out.error["message"]
        assert len(fake_api.state.chat_requests) == sent, "a refused request must not reach the API"
        assert conn.call("status")[1].get("result"), "status is never budgeted"


def test_a_bad_budget_setting_is_refused_at_start(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(env={"GIGACHATD_BUDGETS": '{"default":{"daily_tokenz":5}}'}, wait=False)
    assert d.wait_exit(10) == 78
    assert "daily_tokenz" in d.stderr()


def test_interactive_requests_go_first(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    fake_api.inject("chat", "stall", seconds=1.0)  # holds the one slot while the queue forms
    holder = d.connect()
    holder.request("chat", chat_params("держу", stream=False), id="holder")
    assert fake_api.wait_for(lambda st: st.chat_in_flight == 1, timeout=5)
    batch = d.connect()
    for i in range(3):
        batch.request("chat", {**chat_params(f"фон {i}", stream=False), "priority": "batch"}, id=f"b{i}")
    assert wait_until(lambda: d.connect().call("status")[1]["result"]["requests"]["queued"] >= 3, 5)
    urgent = d.connect()
    urgent.request("chat", {**chat_params("срочно", stream=False), "priority": "interactive"}, id="u")
    assert urgent.collect("u", timeout=15).ok
    for i in range(3):
        assert batch.collect(f"b{i}", timeout=15).ok
    assert holder.collect("holder", timeout=15).ok
    order = [r.json["messages"][-1]["content"] for r in fake_api.state.chat_requests]
    assert order.index("срочно") < order.index("фон 0"), order
    for c in (holder, batch, urgent):
        c.close()


def test_bad_priority_is_invalid_params(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        final = conn.call("chat", {**chat_params("x", stream=False), "priority": "urgent!!"})[1]
    assert final["error"]["code"] == -32602
    assert not fake_api.state.chat_requests


def test_a_broken_ledger_never_fails_a_request(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    ledger = testenv.state / "gigachat" / "usage.sqlite3"
    ledger.mkdir(parents=True)  # a directory where the database file should be: it cannot be opened
    d = daemon()
    with d.connect() as conn:
        for i in range(3):
            assert conn.chat(f"всё равно отвечу {i}", stream=True).ok
        status = conn.call("status")[1]["result"]
    assert status["usage"]["ledger"]["healthy"] is False, status["usage"]
    assert status["usage"]["ledger"]["last_error"], status["usage"]


def test_a_prepaid_balance_is_read_now_and_then_and_warned_about_once(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(env={"GIGACHATD_BALANCE_INTERVAL": "1", "GIGACHATD_BALANCE_WARN": "1000000000"})
    with d.connect() as conn:
        assert wait_until(lambda: conn.call("status")[1]["result"]["balance"]["entries"] is not None, 10)
        balance = conn.call("status")[1]["result"]["balance"]
        assert balance["read_at"] and isinstance(balance["entries"], list) and balance["entries"]
        reads = len(fake_api.state.requests_to("/api/v1/balance"))
        assert wait_until(lambda: len(fake_api.state.requests_to("/api/v1/balance")) > reads, 5), "read again after the interval"
    warnings = [line for line in d.stderr().splitlines() if "balance is low" in line]
    assert len(warnings) == len(balance["entries"]), warnings  # once per entry, not once per read


def test_a_postpaid_key_is_not_asked_again(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.inject("/balance", "status", status=403, message="Permission denied", times=-1)
    d = daemon(env={"GIGACHATD_BALANCE_INTERVAL": "1"})
    assert wait_until(lambda: len(fake_api.state.requests_to("/api/v1/balance")) >= 1, 10)
    time.sleep(2.5)
    assert len(fake_api.state.requests_to("/api/v1/balance")) == 1
    with d.connect() as conn:
        assert conn.call("status")[1]["result"]["balance"]["entries"] is None


def test_the_http_front_end_leaves_rows_too(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    import httpx

    d = daemon()
    sock = d.socket_path.parent / "openai.sock"
    assert wait_until(sock.exists, 5)
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=20) as http:
        reply = http.post("http://gigachatd/v1/chat/completions",
                          json={"model": "GigaChat", "messages": [{"role": "user", "content": "привет"}]})
        assert reply.status_code == 200, reply.text
        models = http.get("http://gigachatd/api/v1/models")
        assert models.status_code == 200
    with d.connect() as conn:
        rows = {row["method"]: row for row in _log(conn)}
    chat = rows["POST /v1/chat/completions"]
    assert chat["contract"] == "openai" and chat["outcome"] == "ok"
    assert chat["total_tokens"] == reply.json()["usage"]["total_tokens"] > 0
    assert chat["model"] == "GigaChat" and chat["client"]["pid"] == os.getpid()
    assert rows["GET /api/v1/models"]["contract"] == "passthrough"
