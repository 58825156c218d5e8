"""`gigachatctl chat` on the v2 contract (`chat.create`), its built-in tools and the rest of today's API
through the real binaries and the fake API: the default contract and
`--api v1`, reasoning, web search with sources, reading URLs, the code interpreter, image generation
with the files saved, `--schema`, `--regex`, `--attach` uploading each content once, `--usage` with
cached tokens, blacklist, the exit statuses of 402, stop events and budgets, the REPL's switches,
`files download` and `ai-check`. Every chat flag is tried streamed and not.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest

from fake_gigachat import FakeGigaChat
from fake_gigachat import v2 as fake_v2
from harness import CtlResult, DaemonFactory, TestEnv, merge_env
from test_ctl import pty_ctl  # noqa: F401  (a fixture)
from test_ctl_waiting import StandIn, send, stand_in  # noqa: F401  (a fixture)

STREAMS = pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])


def no_stream(stream: bool) -> tuple[str, ...]:
    return () if stream else ("--no-stream",)


def last_v2(fake: FakeGigaChat) -> dict[str, Any]:
    assert fake.state.v2_chat_requests, "no chat.create reached the API"
    return fake.state.v2_chat_requests[-1].json


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def json_lines(r: CtlResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def with_terminal_stderr(binary: Path, testenv: TestEnv, *args: str, env: Optional[dict[str, Optional[str]]] = None,
                         timeout: float = 20) -> tuple[int, str, str]:
    """gigachatctl with stdout a pipe and stderr a terminal: (status, stdout, what the terminal showed)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([str(binary), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                                env=merge_env(testenv.base(), {"TERM": "xterm", **(env or {})}), cwd=testenv.root)
        os.close(slave)
        out, _ = proc.communicate(timeout=timeout)
        screen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(master)
    testenv.outputs.extend([out, screen])
    return proc.returncode, out.decode(), screen.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------------
# The contract


@STREAMS
def test_chat_uses_chat_create_by_default(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, stream: bool) -> None:
    daemon()
    r = run_ctl("chat", *no_stream(stream), "-s", "Будь краток", "-m", "GigaChat-2-Pro", "--temperature", "0.3",
                "--max-tokens", "50", "Привет")
    assert r.returncode == 0 and r.stdout == "Echo: Привет\n" and r.stderr == "", r
    assert not fake_api.state.chat_requests, "the v1 endpoint was used"
    body = last_v2(fake_api)
    assert body["messages"] == [{"role": "system", "content": [{"text": "Будь краток"}]}, user("Привет")]
    assert body["model"] == "GigaChat-2-Pro" and body.get("stream", False) is stream
    assert body["model_options"] == {"temperature": pytest.approx(0.3), "max_tokens": 50}
    assert "priority" not in body and "tools" not in body


@STREAMS
def test_api_v1_keeps_the_old_chat(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, stream: bool) -> None:
    daemon()
    r = run_ctl("chat", "--api", "v1", *no_stream(stream), "--reasoning", "low", "Привет")
    assert r.returncode == 0 and r.stdout == "Echo: Привет\n", r
    assert not fake_api.state.v2_chat_requests
    body = fake_api.state.chat_requests[-1].json
    assert body["messages"] == [{"role": "user", "content": "Привет"}] and body["reasoning_effort"] == "low"
    r = run_ctl("chat", "x", env={"GIGACHATCTL_API": "v1"})
    assert r.returncode == 0 and len(fake_api.state.chat_requests) == 2 and not fake_api.state.v2_chat_requests, r
    r = run_ctl("chat", "x", env={"GIGACHATCTL_API": "v3"})
    assert r.returncode == 64 and "GIGACHATCTL_API" in r.stderr, r


@pytest.mark.parametrize("flag", [("--web-search",), ("--read-urls",), ("--code",), ("--image",), ("--schema", "{}"),
                                  ("--regex", "[0-9]+")], ids=lambda f: f[0])
def test_v2_only_flags_refuse_api_v1(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, flag: tuple[str, ...]) -> None:
    daemon()
    r = run_ctl("chat", "--api", "v1", *flag, "x")
    assert r.returncode == 64 and flag[0] in r.stderr and "v2" in r.stderr, r
    assert not fake_api.state.requests_to("chat") and not fake_api.state.v2_chat_requests


@STREAMS
def test_json_prints_the_v2_protocol_lines(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, stream: bool) -> None:
    fake_api.configure(chunks=4)
    daemon()
    r = run_ctl("chat", "--json", *no_stream(stream), "в формате JSON")
    assert r.returncode == 0 and r.stderr == "", r
    *events, final = json_lines(r)
    assert all(m["method"] == "chat.event" for m in events) and bool(events) is stream, events
    assert "".join(e["params"].get("text", "") for e in events) == ("Echo: в формате JSON" if stream else "")
    assert final["result"]["messages"][-1]["content"] == [{"text": "Echo: в формате JSON"}]
    assert final["result"] == fake_api.state.v2_chat_requests[-1].v2_response


# --------------------------------------------------------------------------------------------------
# Reasoning


@STREAMS
def test_reasoning_is_dim_on_a_terminal_and_hidden_elsewhere(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, gigachatctl_bin: Path, testenv: TestEnv, stream: bool
) -> None:
    fake_api.configure(chunks=3)
    daemon()
    status, out, screen = with_terminal_stderr(gigachatctl_bin, testenv, "chat", *no_stream(stream), "--reasoning", "high", "2+2?")
    assert status == 0 and out == "Echo: 2+2?\n", (out, screen)
    assert last_v2(fake_api)["model_options"] == {"reasoning": {"effort": "high"}}
    thinking = fake_v2.text_of(fake_api.state.v2_chat_requests[-1].v2_response["messages"][0]["content"])
    assert "\x1b[2m" in screen and thinking in re.sub(r"\x1b\[[0-9;]*m", "", screen), screen
    assert thinking not in out, "reasoning never mixes into the answer"
    status, out, screen = with_terminal_stderr(gigachatctl_bin, testenv, "chat", *no_stream(stream), "-q", "--reasoning", "high", "2+2?")
    assert status == 0 and out == "Echo: 2+2?\n" and screen == "", (out, screen)
    r = run_ctl("chat", *no_stream(stream), "--reasoning", "medium", "2+2?")
    assert r.returncode == 0 and r.stdout == "Echo: 2+2?\n" and r.stderr == "", "a script's stderr gets errors only"


def test_reasoning_then_answer_on_one_terminal(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    daemon()
    t = pty_ctl("chat", "--reasoning", "low", "вопрос", env={"NO_COLOR": "1"})
    assert t.wait() == 0
    thinking, answer = t.text.index("Пользователь спрашивает"), t.text.index("Echo: вопрос")
    assert thinking < answer and "\n\n" in t.text[thinking:answer], t.text


# --------------------------------------------------------------------------------------------------
# Built-in tools


SOURCES = "\n[1] Первый источник — https://example.org/search/1\n[2] Второй источник — https://example.org/search/2\n"


@STREAMS
def test_web_search_prints_numbered_sources(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, stream: bool) -> None:
    daemon()
    r = run_ctl("chat", *no_stream(stream), "--web-search", "Что нового в Python?")
    assert r.returncode == 0 and r.stderr == "", r
    assert r.stdout == "Echo: Что нового в Python? [sources=[1]]\n" + SOURCES, r
    body = last_v2(fake_api)
    assert body["tools"] == [{"web_search": {"type": "actual_info_web_search"}}] and body["tool_config"] == {"mode": "auto"}


@STREAMS
@pytest.mark.parametrize("flag,tool", [("--read-urls", "url_content_extraction"), ("--code", "code_interpreter")])
def test_other_tools_are_sent(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, stream: bool, flag: str, tool: str) -> None:
    daemon()
    r = run_ctl("chat", *no_stream(stream), flag, "Прочитай https://docs.python.org/3/")
    assert r.returncode == 0 and r.stdout == "Echo: Прочитай https://docs.python.org/3/\n" and r.stderr == "", r
    assert last_v2(fake_api)["tools"] == [{tool: {}}]


def test_several_tools_and_functions_together(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    weather = {"name": "get_weather", "description": "Погода", "parameters": {"type": "object",
               "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    (testenv.root / "f.json").write_text(json.dumps(weather), encoding="utf-8")
    r = run_ctl("chat", "--function", "f.json", "--web-search", "--code", "погода?")
    assert r.returncode == 0, r
    body = last_v2(fake_api)
    assert body["tools"] == [{"functions": {"specifications": [weather]}}, {"web_search": {"type": "actual_info_web_search"}},
                             {"code_interpreter": {}}]
    assert r.stdout.startswith("function call: get_weather\narguments: "), r
    assert json.loads(r.stdout.split("arguments: ", 1)[1]) == {"city": "A-1024"}


@pytest.mark.parametrize("flag,words", [("--web-search", "searching the web"), ("--code", "running code"),
                                        ("--image", "drawing")])
def test_tool_progress_on_a_terminal_only(
    fake_api: FakeGigaChat, daemon: DaemonFactory, gigachatctl_bin: Path, testenv: TestEnv, run_ctl: Any, flag: str, words: str
) -> None:
    daemon()
    status, out, screen = with_terminal_stderr(gigachatctl_bin, testenv, "chat", flag, "-o", "img", "задача")
    assert status == 0, (out, screen)
    assert f"{words} (3 s left)…" in screen and "\r\x1b[K" in screen, screen
    assert words not in out
    status, out, screen = with_terminal_stderr(gigachatctl_bin, testenv, "chat", flag, "-q", "-o", "img", "задача")
    assert status == 0 and words not in screen, screen
    r = run_ctl("chat", flag, "-o", "img", "задача")
    assert r.returncode == 0 and r.stderr == "", r


@STREAMS
def test_image_is_saved_and_its_path_printed(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv, stream: bool
) -> None:
    fake_api.configure(image_bytes=5000)
    daemon()
    r = run_ctl("chat", *no_stream(stream), "--image", "-o", "pictures/cats", "Нарисуй кота")
    assert r.returncode == 0 and r.stderr == "", r
    assert last_v2(fake_api)["tools"] == [{"image_generate": {}}]
    (file_id,) = [f["id"] for m in fake_api.state.v2_chat_requests[-1].v2_response["messages"]
                  for p in m["content"] for f in p.get("files", [])]
    saved = testenv.root / "pictures" / "cats" / f"{file_id}.jpg"
    text, path = r.stdout.splitlines()
    assert text == "Изображение по запросу «Нарисуй кота» создано." and path == str(saved), r
    assert saved.read_bytes() == fake_api.state.files[file_id]["data"] and len(saved.read_bytes()) == 5000
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    # The same picture again goes next to it: nothing is replaced. Without -o it lands in the current directory.
    r = run_ctl("chat", *no_stream(stream), "--image", "-o", "pictures/cats", "Нарисуй кота")
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == str(saved.with_name(f"{file_id}-2.jpg")), r
    r = run_ctl("chat", *no_stream(stream), "--image", "Нарисуй собаку")
    assert r.returncode == 0 and Path(r.stdout.splitlines()[-1]).parent == testenv.root, r


def test_with_json_the_image_is_only_named(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    r = run_ctl("chat", "--json", "--image", "кот")
    assert r.returncode == 0, r
    files = [p["files"] for p in json_lines(r)[-1]["result"]["messages"][-1]["content"] if "files" in p]
    assert files and not list(testenv.root.glob("*.jpg")), "--json prints the protocol; files download fetches"


# --------------------------------------------------------------------------------------------------
# --schema and --regex


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}


@STREAMS
def test_schema_reply_is_checked_and_printed_as_json(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, pty_ctl: Any, testenv: TestEnv, stream: bool
) -> None:
    fake_api.configure(reply='{"city": "Москва", "days": 3}', chunks=5)
    daemon()
    (testenv.root / "schema.json").write_text(json.dumps(SCHEMA), encoding="utf-8")
    for schema in ("schema.json", json.dumps(SCHEMA)):
        r = run_ctl("chat", *no_stream(stream), "--schema", schema, "погода")
        assert r.returncode == 0 and r.stderr == "", r
        assert r.stdout == '{"city":"Москва","days":3}\n', "a pipe gets the JSON on one line"
        assert last_v2(fake_api)["model_options"]["response_format"] == {"type": "json_schema", "schema": SCHEMA, "strict": True}
    t = pty_ctl("chat", *no_stream(stream), "--schema", "schema.json", "погода", env={"NO_COLOR": "1"})
    assert t.wait() == 0 and '{\n  "city": "Москва",\n  "days": 3\n}' in t.text, t.text

    fake_api.configure(reply="Москва, три дня")
    r = run_ctl("chat", *no_stream(stream), "--schema", "schema.json", "погода")
    assert r.returncode == 1 and r.stdout == "", r
    assert r.stderr.startswith("gigachatctl: the reply is not valid JSON") and "Москва, три дня" in r.stderr, r


@pytest.mark.parametrize("args,complaint", [
    (("--schema", "missing.json"), "missing.json"), (("--schema", "{not json"), "not valid JSON"),
    (("--schema", "[1]"), "[1]"), (("--schema", "{}", "--regex", "x"), "give one"), (("--schema", "{}", "-x"), "give one"),
])
def test_bad_schemas_are_bad_usage(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, args: tuple[str, ...], complaint: str) -> None:
    daemon()
    r = run_ctl("chat", *args, "x")
    assert r.returncode == 64 and complaint in r.stderr, r
    assert not fake_api.state.v2_chat_requests


@STREAMS
def test_regex_is_sent(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, stream: bool) -> None:
    fake_api.configure(reply="ABC-1234")
    daemon()
    r = run_ctl("chat", *no_stream(stream), "--regex", r"[A-Z]{3}-\d{4}", "код заказа")
    assert r.returncode == 0 and r.stdout == "ABC-1234\n", r
    assert last_v2(fake_api)["model_options"] == {"response_format": {"type": "regex", "regex": r"[A-Z]{3}-\d{4}"}}


# --------------------------------------------------------------------------------------------------
# --attach


@STREAMS
def test_attach_uploads_each_content_once(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv, stream: bool
) -> None:
    daemon()
    report = testenv.root / "report.pdf"
    report.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 300)
    copy = testenv.root / "copy of report.pdf"
    copy.write_bytes(report.read_bytes())
    notes = testenv.root / "notes.txt"
    notes.write_text("заметки", encoding="utf-8")

    r = run_ctl("chat", *no_stream(stream), "-a", "report.pdf", "--attach", str(notes), "что внутри?")
    assert r.returncode == 0 and r.stdout == "Echo: что внутри?\n", r
    uploads = fake_api.state.requests_to("/files")
    assert len(uploads) == 2, "one upload per file"
    ids = list(fake_api.state.files)
    assert last_v2(fake_api)["messages"] == [{"role": "user", "content": [{"text": "что внутри?"}, {"files": [{"id": ids[0]}, {"id": ids[1]}]}]}]

    # The same content, under another name, in a later chat: no new upload.
    r = run_ctl("chat", *no_stream(stream), "--attach", "copy of report.pdf", "и это")
    assert r.returncode == 0, r
    assert len(fake_api.state.requests_to("/files")) == 2
    assert last_v2(fake_api)["messages"][-1]["content"][1] == {"files": [{"id": ids[0]}]}

    cache = testenv.state / "gigachat" / "uploads.json"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    remembered = json.loads(cache.read_text(encoding="utf-8"))
    assert remembered[hashlib.sha256(report.read_bytes()).hexdigest()]["id"] == ids[0]
    assert remembered[hashlib.sha256(notes.read_bytes()).hexdigest()]["id"] == ids[1]

    # A deleted file is forgotten, and uploaded again when attached next.
    assert run_ctl("files", "delete", ids[0]).returncode == 0
    r = run_ctl("chat", *no_stream(stream), "--api", "v1", "-a", "report.pdf", "снова")
    assert r.returncode == 0, r
    assert len(fake_api.state.requests_to("/files")) == 3
    new_id = [i for i in fake_api.state.files if i not in ids][0]
    assert fake_api.state.chat_requests[-1].json["messages"][-1] == {"role": "user", "content": "снова", "attachments": [new_id]}


@pytest.mark.parametrize("size", [0, 55, 64, 119, 700_001])
def test_attach_hashes_like_sha256(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv, size: int) -> None:
    daemon()
    data = bytes((i * 7 + i // 251) % 256 for i in range(size)) or b""
    (testenv.root / "blob.bin").write_bytes(data)
    r = run_ctl("chat", "-a", "blob.bin", "x")
    remembered = json.loads((testenv.state / "gigachat" / "uploads.json").read_text(encoding="utf-8")) if size else {}
    if size:
        assert r.returncode == 0, r
        assert list(remembered) == [hashlib.sha256(data).hexdigest()]
    else:
        assert r.returncode != 0, "the API takes no empty file"


def test_attach_refuses_what_it_cannot_send(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    for path, complaint in (("missing.pdf", "missing.pdf"), (str(testenv.root), "not a regular file")):
        r = run_ctl("chat", "-a", path, "x")
        assert r.returncode == 64 and complaint in r.stderr, r
    assert not fake_api.state.requests_to("/files") and not fake_api.state.v2_chat_requests


# --------------------------------------------------------------------------------------------------
# --usage, blacklist, exit statuses, priority


USAGE = re.compile(r"^usage: (\d+) tokens in \((\d+) cached\), (\d+) out; \d+\.\d\d s(, first text after \d+\.\d\d s)?$")


@STREAMS
def test_usage_counts_v2_tokens(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, stream: bool) -> None:
    daemon()
    r = run_ctl("chat", *no_stream(stream), "-u", "сколько?")
    assert r.returncode == 0 and r.stdout == "Echo: сколько?\n", r
    m = USAGE.match(r.stderr.strip())
    assert m, r.stderr
    usage = fake_api.state.v2_chat_requests[-1].usage
    assert (int(m[1]), int(m[2]), int(m[3])) == (usage["input_tokens"], usage["input_tokens_details"]["cached_tokens"],
                                                 usage["output_tokens"])
    assert bool(m[4]) is stream


@STREAMS
def test_blacklist_gets_a_notice(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, stream: bool) -> None:
    fake_api.inject("v2", "blacklist")
    daemon()
    r = run_ctl("chat", *no_stream(stream), "запретная тема")
    assert r.returncode == 0 and r.stdout == fake_v2.BLACKLIST_TEXT + "\n", r
    assert "content filter declined to answer" in r.stderr and len(r.stderr.splitlines()) == 1, r


@pytest.mark.parametrize("api", ["v2", "v1"])
@pytest.mark.parametrize("kind,params,status", [("payment_required", {}, 6), ("stop_event", {}, 7),
                                                ("stop_event", {"status": 403}, 7)], ids=["402", "423", "403-stop"])
def test_payment_and_stop_events_have_their_own_status(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, kind: str, params: dict[str, Any], status: int, api: str
) -> None:
    fake_api.inject("v2" if api == "v2" else "chat", kind, times=-1, **params)
    daemon()
    r = run_ctl("chat", "--api", api, "привет")
    assert r.returncode == status and r.stdout == "", r
    assert r.stderr.startswith("gigachatctl: ") and len(r.stderr.splitlines()) == 1, r
    r = run_ctl("chat", "--api", api, "--json", "привет")
    assert r.returncode == status and r.stderr == "", r


def test_a_budget_used_up_exits_8(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon(env={"GIGACHATD_BUDGETS": '{"default":{"daily_requests":1}}'})
    assert run_ctl("chat", "первый").returncode == 0
    r = run_ctl("chat", "второй")
    assert r.returncode == 8 and r.stdout == "" and "budget default" in r.stderr, r
    assert len(fake_api.state.v2_chat_requests) == 1, "nothing went upstream"


def test_exit_statuses_are_documented(run_ctl: Any) -> None:
    help_text = run_ctl("--help").stdout
    for code in ("6", "7", "8"):
        assert re.search(rf"^  {code}  ", help_text, re.M), help_text
    manual = (Path(__file__).resolve().parents[2] / "docs" / "gigachatctl.1").read_text(encoding="utf-8")
    for code in ("6", "7", "8"):
        assert f".It {code}\n" in manual


def test_interactive_priority_only_on_a_terminal(stand_in: Any, run_ctl: Any, pty_ctl: Any) -> None:
    def answer(conn: socket.socket, server: StandIn) -> None:
        buffer = bytearray()
        (request,) = server.read_requests(conn, buffer)
        send(conn, {"id": request["id"], "result": {"messages": [{"role": "assistant", "content": [{"text": "готово"}]}],
                                                    "finish_reason": "stop"}})
        server.stopped.wait(5)

    server = stand_in(answer)
    r = run_ctl("chat", "привет")
    assert r.returncode == 0 and r.stdout == "готово\n", r
    t = pty_ctl("chat", "привет")
    assert t.wait() == 0 and "готово" in t.text
    first, second = [m for m in server.received if m["method"] == "chat.create"]
    assert "priority" not in first["params"]
    assert second["params"]["priority"] == "interactive"


def test_a_broken_stream_keeps_what_arrived(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    fake_api.configure(chunks=4)
    fake_api.inject("v2", "error_event", chunks=2, status_code=500, message="Internal Server Error")
    daemon()
    r = run_ctl("chat", "раз два три четыре")
    assert r.returncode == 1, r
    pieces = [p["text"] for n, d in fake_api.state.v2_chat_requests[-1].v2_events[:2] if n == "response.message.delta"
              for m in d["messages"] for p in m["content"]]
    assert r.stdout == "".join(pieces) + "\n" and "incomplete" in r.stderr, r


# --------------------------------------------------------------------------------------------------
# Conversations, --continue, both contracts


def test_continue_across_contracts(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    assert run_ctl("chat", "--api", "v1", "-s", "Кратко", "раз").returncode == 0
    assert run_ctl("chat", "-C", "два").returncode == 0
    assert last_v2(fake_api)["messages"] == [
        {"role": "system", "content": [{"text": "Кратко"}]}, user("раз"),
        {"role": "assistant", "content": [{"text": "Echo: раз"}]}, user("два"),
    ]
    assert run_ctl("chat", "-C", "--api", "v1", "три").returncode == 0
    assert [(m["role"], m["content"]) for m in fake_api.state.chat_requests[-1].json["messages"]] == [
        ("system", "Кратко"), ("user", "раз"), ("assistant", "Echo: раз"), ("user", "два"), ("assistant", "Echo: два"),
        ("user", "три")]


def test_a_daemon_conversation_with_v2(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    assert run_ctl("chat", "-c", "work", "первый").returncode == 0
    assert run_ctl("chat", "-c", "work", "--api", "v1", "второй").returncode == 0
    assert run_ctl("chat", "-c", "work", "третий").returncode == 0
    texts = [fake_v2.text_of(m["content"]) for m in last_v2(fake_api)["messages"]]
    assert texts == ["первый", "Echo: первый", "второй", "Echo: второй", "третий"]
    assert "conversation" not in last_v2(fake_api)


def test_a_function_call_is_not_sent_back_unanswered(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    fn = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    (testenv.root / "f.json").write_text(json.dumps(fn), encoding="utf-8")
    r = run_ctl("chat", "-i", "--function", "f.json", input="погода?\nспасибо\n")
    assert r.returncode == 0, r
    assert last_v2(fake_api)["messages"][-1] == user("спасибо")
    assert all("function_call" not in json.dumps(m) for m in last_v2(fake_api)["messages"])


# --------------------------------------------------------------------------------------------------
# The REPL's switches


def test_repl_switches(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    (testenv.root / "doc.txt").write_text("документ", encoding="utf-8")
    script = "\n".join([
        "/web", "раз",                    # on
        "/web off", "/code on", "/reasoning high", "два",
        "/code", "/reasoning off", "/regex [0-9]+", "три",
        '/schema {"type":"object"}', "/attach doc.txt", "/settings", "четыре",
        "/schema off", "/image on", "пять",
        "/web maybe", "/reasoning extreme",
    ]) + "\n"
    fake_api.configure(reply='{"ok": true}')
    r = run_ctl("chat", "-i", "-o", "out", input=script)
    assert r.returncode == 0, r
    bodies = [q.json for q in fake_api.state.v2_chat_requests]
    assert len(bodies) == 5
    assert bodies[0]["tools"] == [{"web_search": {"type": "actual_info_web_search"}}]
    assert bodies[1]["tools"] == [{"code_interpreter": {}}] and bodies[1]["model_options"] == {"reasoning": {"effort": "high"}}
    assert "tools" not in bodies[2] and bodies[2]["model_options"] == {"response_format": {"type": "regex", "regex": "[0-9]+"}}
    assert bodies[3]["model_options"]["response_format"]["type"] == "json_schema"
    (doc_id,) = fake_api.state.files if len(fake_api.state.files) == 1 else [list(fake_api.state.files)[0]]
    assert bodies[3]["messages"][-1]["content"][1] == {"files": [{"id": doc_id}]}
    assert bodies[4]["tools"] == [{"image_generate": {}}] and "model_options" not in bodies[4]
    assert len(bodies[4]["messages"][-1]["content"]) == 1, "an attachment goes with one turn"
    out = r.stdout
    for said in ("Web search: on.", "Web search: off.", "Running code: on.", "Reasoning: high.", "Running code: off.",
                 "Reasoning: off", "The reply will match [0-9]+.", "The reply will be JSON following the schema.",
                 "doc.txt goes with the next turn.", "API v2; model the daemon's default; no tools; JSON schema; attached: doc.txt.",
                 "Drawing: on.", "/web takes on or off.", "/reasoning takes low, medium, high or off."):
        assert said in out, (said, out)
    assert '{"ok":true}' in out
    assert len(list((testenv.root / "out").glob("*.jpg"))) == 1


def test_repl_switches_need_v2(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    r = run_ctl("chat", "-i", "--api", "v1", input="/web on\nраз\n")
    assert r.returncode == 0 and "/web needs the v2 chat contract" in r.stdout, r
    assert "tools" not in fake_api.state.chat_requests[-1].json


def test_repl_help_lists_the_switches(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    r = run_ctl("chat", "-i", input="/help\n")
    for command in ("/web", "/urls", "/code", "/image", "/reasoning", "/schema", "/regex", "/attach", "/settings"):
        assert command in r.stdout, r


# --------------------------------------------------------------------------------------------------
# files download, ai-check


def test_files_download(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    src = testenv.root / "data.bin"
    src.write_bytes(bytes(range(256)) * 10)
    r = run_ctl("files", "upload", "--json", "data.bin")
    fid = json.loads(r.stdout)["result"]["id"]
    (testenv.root / "in").mkdir()
    r = run_ctl("files", "download", fid, "in/copy.bin")
    assert r.returncode == 0 and r.stdout == str(testenv.root / "in" / "copy.bin") + "\n", r
    assert (testenv.root / "in" / "copy.bin").read_bytes() == src.read_bytes()
    r = run_ctl("files", "download", fid, "in/copy.bin")
    assert r.returncode != 0 and (testenv.root / "in" / "copy.bin").read_bytes() == src.read_bytes(), "never replaced"
    # No path: the stored name in the current directory; a directory: the stored name in it.
    (testenv.root / "data.bin").unlink()
    r = run_ctl("files", "download", fid)
    assert r.returncode == 0 and r.stdout == str(testenv.root / "data.bin") + "\n", r
    r = run_ctl("files", "download", fid, "in")
    assert r.returncode == 0 and r.stdout == str(testenv.root / "in" / "data.bin") + "\n", r
    r = run_ctl("files", "download", fid, "in")
    assert r.returncode == 0 and r.stdout == str(testenv.root / "in" / "data-2.bin") + "\n", r
    r = run_ctl("files", "download", fid, "-")
    assert r.returncode == 0 and r.stdout_bytes == bytes(range(256)) * 10, r
    r = run_ctl("files", "download", "--json", fid, "-")
    assert r.returncode == 0 and json.loads(r.stdout)["result"]["bytes"] == 2560
    r = run_ctl("files", "download", "no-such-file", "x")
    assert r.returncode == 1 and "404" in r.stderr and not (testenv.root / "x").exists(), r


def test_ai_check(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, pty_ctl: Any) -> None:
    daemon()
    text = "Этот текст достаточно длинный, чтобы детектор нашёл в нём кусок от нейросети."
    r = run_ctl("ai-check", text)
    assert r.returncode == 0, r
    expected = fake_v2.ai_check(text)
    lines = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in r.stdout.splitlines())
    assert lines == {"category": "mixed", "characters": str(len(text)), "tokens": str(expected["tokens"]),
                     "by a model": f"0–{len(text) // 2}"}, r
    assert fake_api.state.requests_to("/ai/check")[-1].json == {"input": text, "model": "GigaCheckDetection"}
    r = run_ctl("ai-check", "-", "-m", "GigaCheckClassification", input="коротко\n")
    assert r.returncode == 0 and "human" in r.stdout and "by a model  -" in r.stdout, r
    assert fake_api.state.requests_to("/ai/check")[-1].json == {"input": "коротко", "model": "GigaCheckClassification"}
    r = run_ctl("ai-check", "--json", "коротко")
    assert json.loads(r.stdout)["result"] == fake_v2.ai_check("коротко")
    t = pty_ctl("ai-check", text)
    assert t.wait() == 0 and "\x1b[33m" + text[: len(text) // 2] + "\x1b[0m" + text[len(text) // 2:] in t.raw.decode()
    assert run_ctl("ai-check", input="").returncode == 64
