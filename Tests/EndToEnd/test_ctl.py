"""gigachatctl chat, as a person or a shell script uses it. Issue 2.

run_ctl uses the test's XDG_RUNTIME_DIR, so without --socket gigachatctl looks where the daemon
fixture put its socket: that also checks that client and daemon resolve the path the same way.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import pytest

from fake_gigachat import FakeGigaChat
from harness import CtlResult, DaemonFactory, TestEnv

RunCtl = Callable[..., CtlResult]


def test_chat_prints_the_reply(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "Привет! Расскажи анекдот")
    assert r.returncode == 0, r
    assert r.stdout.rstrip("\n") == "Echo: Привет! Расскажи анекдот", r
    rec = fake_api.state.chat_requests[-1]
    assert rec.json["stream"] is True
    assert rec.json["messages"] == [{"role": "user", "content": "Привет! Расскажи анекдот"}]


def test_prompt_words_are_joined(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "Привет!", "Расскажи", "анекдот")
    assert r.returncode == 0, r
    assert fake_api.state.chat_requests[-1].json["messages"][-1]["content"] == "Привет! Расскажи анекдот"


def test_chat_output_streams_as_it_arrives(
    fake_api: FakeGigaChat, daemon: DaemonFactory, ctl_popen: Callable[..., object]
) -> None:
    fake_api.configure(chunks=4, chunk_interval=0.3)
    daemon()
    p = ctl_popen("chat", "раз два три четыре")
    first = p.stdout.read(1)  # type: ignore[attr-defined]
    first_at = time.monotonic()
    rest = p.stdout.read()  # type: ignore[attr-defined]
    assert p.wait(10) == 0, p.stderr.read()  # type: ignore[attr-defined]
    done_at = time.monotonic()
    assert (first + rest).decode().rstrip("\n") == "Echo: раз два три четыре"
    assert done_at - first_at >= 0.6, "the first text appeared only at the end: output is not streamed"


def test_no_stream(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "--no-stream", "без потока")
    assert r.returncode == 0, r
    assert r.stdout.rstrip("\n") == "Echo: без потока"
    assert fake_api.state.chat_requests[-1].json.get("stream") in (None, False)


def test_prompt_from_stdin_with_options(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "-s", "Be brief", "-m", "GigaChat-2-Pro", "--temperature", "0.3", "--max-tokens", "50",
                input="Summarise this\nsecond line\n")
    assert r.returncode == 0, r
    body = fake_api.state.chat_requests[-1].json
    assert body["model"] == "GigaChat-2-Pro"
    assert body["temperature"] == pytest.approx(0.3)
    assert body["max_tokens"] == 50
    assert body["messages"][0] == {"role": "system", "content": "Be brief"}
    assert body["messages"][1]["role"] == "user"
    assert body["messages"][1]["content"].strip() == "Summarise this\nsecond line"
    assert r.stdout.rstrip("\n") == ("Echo: " + body["messages"][1]["content"]).rstrip("\n")


def test_json_prints_the_protocol_lines(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    fake_api.configure(chunks=4)
    daemon()
    r = run_ctl("chat", "--json", "в формате JSON")
    assert r.returncode == 0, r
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    # Echoing the request it sent is allowed; everything after it is what the daemon said.
    lines = [m for m in lines if m.get("method") != "chat"]
    assert len(lines) >= 2
    *deltas, final = lines
    assert all(m.get("jsonrpc") == "2.0" and m.get("method") == "chat.delta" for m in deltas), deltas
    assert "result" in final and "id" in final
    content = final["result"]["choices"][0]["message"]["content"]
    assert content == "Echo: в формате JSON"
    assert "".join(m["params"]["content"] for m in deltas) == content


def assert_not_running_message(r: CtlResult, socket_path: Path) -> None:
    assert r.returncode != 0, r
    assert r.stdout == "", r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr:\n{r}"
    assert str(socket_path) in lines[0], f"the message should name {socket_path}:\n{r}"


def test_daemon_not_running(run_ctl: RunCtl, testenv: TestEnv) -> None:
    assert_not_running_message(run_ctl("chat", "hi"), testenv.default_socket)
    elsewhere = testenv.runtime / "nowhere" / "gigachatd.sock"
    assert_not_running_message(run_ctl("--socket", str(elsewhere), "chat", "hi"), elsewhere)
    assert_not_running_message(run_ctl("chat", "hi", env={"GIGACHATD_SOCKET": str(elsewhere)}), elsewhere)


def test_socket_flag_and_environment(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl, testenv: TestEnv) -> None:
    custom = testenv.runtime / "custom" / "d.sock"
    daemon(socket=custom)
    r = run_ctl("--socket", str(custom), "chat", "через флаг")
    assert r.returncode == 0, r
    assert r.stdout.rstrip("\n") == "Echo: через флаг"
    r = run_ctl("chat", "через окружение", env={"GIGACHATD_SOCKET": str(custom)})
    assert r.returncode == 0, r
    assert r.stdout.rstrip("\n") == "Echo: через окружение"


def test_upstream_error_is_one_line_and_a_non_zero_exit(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "-m", "GigaChat-Nonexistent", "x")
    assert r.returncode not in (0, None), r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "No such model" in lines[0], r
