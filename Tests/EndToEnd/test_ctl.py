"""gigachatctl as a person or a shell script uses it: chat, then every subcommand, the REPL
on a pseudo-terminal, exit codes, colour, Ctrl-C, completions and the man page.

run_ctl uses the test's XDG_RUNTIME_DIR, so without --socket gigachatctl looks where the daemon
fixture put its socket: that also checks that client and daemon resolve the path the same way.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from fake_gigachat import MODELS, V2_CHAT_PATH, FakeGigaChat, make_test_key
from harness import REPO_ROOT, CtlResult, DaemonFactory, TestEnv, merge_env, wait_until

RunCtl = Callable[..., CtlResult]


def chats(fake: FakeGigaChat) -> list[Any]:
    """The chats gigachatctl sent upstream: chat.create, on the v2 endpoint, unless --api v1."""
    return fake.state.v2_chat_requests


def last_body(fake: FakeGigaChat) -> dict[str, Any]:
    assert chats(fake), "no chat reached the API"
    return chats(fake)[-1].json


def plain(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """v2 messages as role and text, the way v1 spells them, for comparing turns."""
    return [{"role": m["role"], "content": "".join(p.get("text", "") for p in m["content"])} for m in messages]


def test_chat_prints_the_reply(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "Привет! Расскажи анекдот")
    assert r.returncode == 0, r
    assert r.stdout.rstrip("\n") == "Echo: Привет! Расскажи анекдот", r
    rec = chats(fake_api)[-1]
    assert rec.json["stream"] is True
    assert rec.json["messages"] == [{"role": "user", "content": [{"text": "Привет! Расскажи анекдот"}]}]


def test_prompt_words_are_joined(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "Привет!", "Расскажи", "анекдот")
    assert r.returncode == 0, r
    assert plain(last_body(fake_api)["messages"])[-1]["content"] == "Привет! Расскажи анекдот"


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
    assert last_body(fake_api).get("stream") in (None, False)


def test_prompt_from_stdin_with_options(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "-s", "Be brief", "-m", "GigaChat-2-Pro", "--temperature", "0.3", "--max-tokens", "50",
                input="Summarise this\nsecond line\n")
    assert r.returncode == 0, r
    body = last_body(fake_api)
    assert body["model"] == "GigaChat-2-Pro"
    assert body["model_options"] == {"temperature": pytest.approx(0.3), "max_tokens": 50}
    messages = plain(body["messages"])
    assert messages[0] == {"role": "system", "content": "Be brief"}
    assert messages[1]["role"] == "user"
    assert messages[1]["content"].strip() == "Summarise this\nsecond line"
    assert r.stdout.rstrip("\n") == ("Echo: " + messages[1]["content"]).rstrip("\n")


def test_json_prints_the_protocol_lines(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    fake_api.configure(chunks=4)
    daemon()
    r = run_ctl("chat", "--json", "в формате JSON")
    assert r.returncode == 0, r
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    # Echoing the request it sent is allowed; everything after it is what the daemon said.
    lines = [m for m in lines if m.get("method") != "chat"]
    assert len(lines) >= 2
    *events, final = lines
    assert all(m.get("jsonrpc") == "2.0" and m.get("method") == "chat.event" for m in events), events
    assert "result" in final and "id" in final
    content = "".join(p["text"] for p in final["result"]["messages"][-1]["content"])
    assert content == "Echo: в формате JSON"
    assert "".join(m["params"].get("text", "") for m in events) == content


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


# --------------------------------------------------------------------------------------------------
# Helpers for the subcommands

ESCAPE = "\x1b"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def json_lines(r: CtlResult) -> list[dict[str, Any]]:
    """--json output: every line one JSON object, nothing else."""
    lines = r.stdout.splitlines()
    assert lines, f"no output:\n{r}"
    out = []
    for line in lines:
        obj = json.loads(line)
        assert isinstance(obj, dict) and obj.get("jsonrpc") == "2.0", line
        out.append(obj)
    return out


def final_result(r: CtlResult) -> Any:
    assert r.returncode == 0, r
    final = json_lines(r)[-1]
    assert "result" in final, r
    return final["result"]


def table(r: CtlResult) -> list[list[str]]:
    """A table printed for people: header and rows, split on runs of two or more blanks."""
    assert r.returncode == 0, r
    assert ESCAPE not in r.stdout, "colour on a pipe"
    return [re.split(r"\s{2,}", line.strip()) for line in r.stdout.splitlines() if line.strip()]


def assert_aligned(text: str, column_text: str) -> None:
    """Every line's second column starts at the same offset (key/value and table output)."""
    starts = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^(\s*\S+(?: \S+)*)\s{2,}", line)
        assert m, f"not a two-column line: {line!r}"
        starts.add(m.end())
    assert len(starts) == 1, f"columns are not aligned:\n{text}"


def rpc_error_code(r: CtlResult) -> int:
    final = json_lines(r)[-1]
    assert "error" in final, r
    return final["error"]["code"]


# --------------------------------------------------------------------------------------------------
# models, embed, tokens, balance, status


def test_models_table_and_json(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("models")
    rows = table(r)
    assert rows[0] == ["ID", "TYPE", "OWNED BY"], r
    assert ["GigaChat-2-Pro", "chat", "salutedevices"] in rows
    assert ["Embeddings", "embedder", "salutedevices"] in rows
    assert len(rows) == 1 + len(MODELS)
    assert_aligned(r.stdout, "TYPE")
    assert fake_api.state.requests_to("/models")[-1].method == "GET"

    for args in (("models", "--json"), ("--json", "models"), ("models", "list", "--json")):
        result = final_result(run_ctl(*args))
        assert result["object"] == "list"
        assert [m["id"] for m in result["data"]] == [m for m, _ in MODELS]


def test_models_get(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("models", "get", "GigaChat-2-Pro")
    assert r.returncode == 0, r
    assert dict(table(r)) == {"id": "GigaChat-2-Pro", "object": "model", "owned_by": "salutedevices", "type": "chat"}
    assert fake_api.state.requests[-1].route == "/models/GigaChat-2-Pro"
    assert final_result(run_ctl("models", "get", "--json", "Embeddings"))["type"] == "embedder"

    r = run_ctl("models", "get", "GigaChat-Nonexistent")
    assert r.returncode == 1, r
    assert r.stdout == "" and "No such model" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r


def test_embed(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("embed", "Привет", "мир")
    rows = table(r)
    assert rows[0] == ["INDEX", "TOKENS", "DIMENSIONS", "VECTOR", "TEXT"]
    assert [row[0] for row in rows[1:3]] == ["0", "1"] and all(row[2] == "1024" for row in rows[1:3]), r
    assert rows[1][-1] == "Привет" and rows[2][-1] == "мир"
    assert fake_api.state.requests_to("/embeddings")[-1].json == {"model": "Embeddings", "input": ["Привет", "мир"]}

    result = final_result(run_ctl("embed", "--json", "-m", "Embeddings-2", input="из stdin\n"))
    assert fake_api.state.requests_to("/embeddings")[-1].json == {"model": "Embeddings-2", "input": ["из stdin"]}
    assert result["model"] == "Embeddings-2" and len(result["data"]) == 1
    assert len(result["data"][0]["embedding"]) == 1024


def test_tokens(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon(model="GigaChat-2")
    r = run_ctl("tokens", "Привет, как дела?", "abc")
    rows = table(r)
    assert rows == [["TOKENS", "CHARACTERS", "TEXT"], ["5", "17", "Привет, как дела?"], ["1", "3", "abc"]], r
    assert fake_api.state.requests_to("/tokens/count")[-1].json == {"model": "GigaChat-2", "input": ["Привет, как дела?", "abc"]}

    result = final_result(run_ctl("tokens", "--json", "-m", "GigaChat-2-Max", "один"))
    assert result == [{"object": "tokens", "tokens": 1, "characters": 4}]
    assert fake_api.state.requests_to("/tokens/count")[-1].json == {"model": "GigaChat-2-Max", "input": ["один"]}


def test_balance(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("balance")
    rows = table(r)
    assert rows[0] == ["USAGE", "LEFT"]
    assert ["GigaChat-Pro", "991490"] in rows and ["embeddings", "5000000"] in rows
    # Numbers are right-aligned: the lines all end in the same column.
    assert len({len(line) for line in r.stdout.splitlines()}) == 1, r.stdout
    assert final_result(run_ctl("--json", "balance"))["balance"][0] == {"usage": "embeddings", "value": 5000000}
    assert fake_api.state.requests_to("/balance")[-1].method == "GET"


def test_status_table_and_json(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("status")
    assert r.returncode == 0, r
    values = dict(table(r))
    assert values["state"] == "running"
    assert values["upstream.base_url"] == fake_api.base_url
    assert values["upstream.scope"] == "GIGACHAT_API_PERS"
    assert "token.valid_until" in values and "requests.in_flight" in values
    assert_aligned(r.stdout, "")
    result = final_result(run_ctl("status", "--json"))
    assert result["state"] == "running" and result["requests"]["in_flight"] == 0


# --------------------------------------------------------------------------------------------------
# files


def test_files_upload_list_get_delete(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl, testenv: TestEnv) -> None:
    daemon()
    note = testenv.root / "заметка.txt"  # run_ctl's working directory is testenv.root
    note.write_text("Привет, файл!\n", encoding="utf-8")

    r = run_ctl("files", "upload", note.name)  # a relative path: gigachatctl makes it absolute
    assert r.returncode == 0, r
    upload = fake_api.state.requests_to("/files")[-1]
    assert upload.method == "POST"
    parts = {p["name"]: p for p in upload.parts}
    assert parts["file"]["filename"] == "заметка.txt"
    assert parts["file"]["data"] == note.read_bytes()
    assert parts["file"]["content_type"] == "text/plain"
    assert parts["purpose"]["data"] == b"general"
    info = dict(table(r))
    file_id = info["id"]
    assert info["filename"] == "заметка.txt" and info["bytes"] == str(len(note.read_bytes()))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", info["created_at"]), info

    result = final_result(run_ctl("files", "upload", "--json", "--mime", "application/json", "--purpose", "general", str(note)))
    second_id = result["id"]
    assert fake_api.state.requests_to("/files")[-1].parts[0]["content_type"] == "application/json"

    rows = table(run_ctl("files"))  # list is the default
    assert rows[0] == ["ID", "BYTES", "CREATED", "PURPOSE", "FILENAME"]
    assert {row[0] for row in rows[1:]} == {file_id, second_id}
    assert [m["id"] for m in final_result(run_ctl("files", "list", "--json"))["data"]] == [file_id, second_id]

    assert dict(table(run_ctl("files", "get", file_id)))["id"] == file_id
    assert fake_api.state.requests[-1].route == f"/files/{file_id}"
    assert final_result(run_ctl("--json", "files", "get", second_id))["filename"] == "заметка.txt"

    r = run_ctl("files", "delete", file_id)
    assert r.returncode == 0 and file_id in r.stdout, r
    assert fake_api.state.requests[-1].route == f"/files/{file_id}/delete" and fake_api.state.requests[-1].method == "POST"
    assert final_result(run_ctl("files", "delete", "--json", second_id)) == {"id": second_id, "deleted": True, "object": "file"}
    r = run_ctl("files", "list")
    assert r.returncode == 0 and r.stdout.strip() == "No files.", r

    r = run_ctl("files", "get", file_id)
    assert r.returncode == 1 and "not found" in r.stderr.lower(), r


def test_files_upload_of_a_missing_file_names_it(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl, testenv: TestEnv) -> None:
    daemon()
    r = run_ctl("files", "upload", "нет-такого.pdf")
    assert r.returncode == 1, r
    assert str(testenv.root / "нет-такого.pdf") in r.stderr, r
    assert not fake_api.state.requests_to("/files")


# --------------------------------------------------------------------------------------------------
# chat: conversations, session, functions


def test_conversation_continues_across_calls_and_is_kept_private(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl, testenv: TestEnv
) -> None:
    daemon()
    r = run_ctl("chat", "-c", "work", "-s", "Будь краток", "первый")
    assert r.returncode == 0 and r.stdout == "Echo: первый\n", r
    r = run_ctl("chat", "--conversation", "work", "второй")
    assert r.returncode == 0 and r.stdout == "Echo: второй\n", r
    assert plain(last_body(fake_api)["messages"]) == [
        {"role": "system", "content": "Будь краток"},
        {"role": "user", "content": "первый"},
        {"role": "assistant", "content": "Echo: первый"},
        {"role": "user", "content": "второй"},
    ]
    assert "conversation" not in last_body(fake_api)

    stored = testenv.state / "gigachat" / "conversations" / "work.json"
    assert stored.is_file()
    assert stored.stat().st_mode & 0o777 == 0o600

    rows = table(run_ctl("conversations"))
    assert rows[0] == ["NAME", "MESSAGES", "UPDATED"] and rows[1][:2] == ["work", "5"], rows
    listed = final_result(run_ctl("conversations", "list", "--json"))["conversations"]
    assert [(c["name"], c["messages"]) for c in listed] == [("work", 5)]

    r = run_ctl("conversations", "show", "work")
    assert r.returncode == 0, r
    assert r.stdout.splitlines() == [
        "system: Будь краток", "user: первый", "assistant: Echo: первый", "user: второй", "assistant: Echo: второй",
    ]
    shown = final_result(run_ctl("--json", "conversations", "show", "work"))
    assert shown["name"] == "work" and len(shown["messages"]) == 5

    r = run_ctl("conversations", "delete", "work")
    assert r.returncode == 0 and "work" in r.stdout, r
    assert not stored.exists()
    r = run_ctl("conversations", "show", "work")
    assert r.returncode == 1 and "work" in r.stderr, r
    r = run_ctl("conversations", "list")
    assert r.returncode == 0 and r.stdout.startswith("No conversations."), r


def test_bad_conversation_name_is_bad_usage(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "-c", "../escape", "привет")
    assert r.returncode in (1, 64), r
    assert not chats(fake_api)


def test_session_id_goes_out_as_the_header(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "--session", "sess-42", "с кэшем")
    assert r.returncode == 0, r
    rec = chats(fake_api)[-1]
    assert rec.header("X-Session-ID") == "sess-42"
    assert "session_id" not in rec.json


WEATHER = {
    "name": "get_weather",
    "description": "Погода в городе",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.mark.parametrize("api", ["v2", "v1"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_function_call_is_printed_readably(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl, testenv: TestEnv, stream: bool, api: str
) -> None:
    daemon()
    (testenv.root / "functions.json").write_text(json.dumps([WEATHER], ensure_ascii=False), encoding="utf-8")
    r = run_ctl("chat", "--api", api, *([] if stream else ["--no-stream"]), "--function", "functions.json", "Какая погода в Москве?")
    assert r.returncode == 0, r
    if api == "v2":
        body = last_body(fake_api)
        assert body["tools"] == [{"functions": {"specifications": [WEATHER]}}] and body["tool_config"] == {"mode": "auto"}
    else:
        body = fake_api.state.chat_requests[-1].json
        assert body["functions"] == [WEATHER] and body["function_call"] == "auto"
    assert body.get("stream", False) is stream
    lines = r.stdout.splitlines()
    assert lines[0] == "function call: get_weather", r
    assert lines[1].startswith("arguments: ")
    # The fake's v1 model reads the city from the question; its v2 model fills in an example value.
    assert json.loads(r.stdout.split("arguments: ", 1)[1]) == {"city": "Москва" if api == "v1" else "A-1024"}


def test_function_file_with_one_object_and_bad_files(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl, testenv: TestEnv
) -> None:
    daemon()
    (testenv.root / "one.json").write_text(json.dumps(WEATHER), encoding="utf-8")
    r = run_ctl("chat", "--json", "--function", "one.json", "погода")
    assert r.returncode == 0, r
    assert last_body(fake_api)["tools"] == [{"functions": {"specifications": [WEATHER]}}]
    final = json_lines(r)[-1]["result"]
    assert final["finish_reason"] == "function_call"
    assert final["messages"][-1]["content"][0]["function_call"]["name"] == "get_weather"

    (testenv.root / "broken.json").write_text("{not json", encoding="utf-8")
    (testenv.root / "nameless.json").write_text('{"description": "x"}', encoding="utf-8")
    for name in ("missing.json", "broken.json", "nameless.json"):
        r = run_ctl("chat", "--function", name, "погода")
        assert r.returncode == 64, r
        assert name in r.stderr and len(r.stderr.strip().splitlines()) == 1, r
    assert len(chats(fake_api)) == 1


# --------------------------------------------------------------------------------------------------
# Exit codes


@pytest.mark.parametrize(
    "args",
    [("status",), ("models",), ("models", "get", "GigaChat"), ("embed", "x"), ("tokens", "x"), ("balance",),
     ("files",), ("files", "get", "id"), ("files", "delete", "id"), ("files", "upload", "/etc/hostname"),
     ("conversations",), ("conversations", "show", "x"), ("conversations", "delete", "x"), ("chat", "-i")],
    ids=lambda a: "-".join(a),
)
def test_daemon_down_is_exit_3(run_ctl: RunCtl, testenv: TestEnv, args: tuple[str, ...]) -> None:
    r = run_ctl(*args, input="")
    assert r.returncode == 3, r
    assert r.stdout == ""
    assert str(testenv.default_socket) in r.stderr and len(r.stderr.strip().splitlines()) == 1, r


def test_oauth_401_is_exit_4(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon(env={"GIGACHAT_CREDENTIALS": make_test_key()})  # a key the OAuth endpoint does not know
    r = run_ctl("chat", "привет")
    assert r.returncode == 4, r
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r
    assert fake_api.state.oauth_calls and all(c.status == 401 for c in fake_api.state.oauth_calls)
    r = run_ctl("models", "--json")
    assert r.returncode == 4 and rpc_error_code(r) == -32001, r


def test_no_credentials_is_exit_4(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon(credentials=False)
    r = run_ctl("balance")
    assert r.returncode == 4, r


def test_rate_limit_beyond_the_bound_is_exit_5(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    fake_api.inject("v2", "rate_limit", retry_after=3600, times=-1)
    daemon(env={"GIGACHATD_MAX_RETRY_AFTER": "1"})
    r = run_ctl("chat", "быстрее")
    assert r.returncode == 5, r
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1, r
    r = run_ctl("chat", "--json", "быстрее")
    assert r.returncode == 5 and rpc_error_code(r) == -32002, r


def test_upstream_http_error_is_exit_1_and_json_keeps_stderr_clean(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl
) -> None:
    fake_api.settings.scope = "GIGACHAT_API_CORP"  # pay-as-you-go: the API answers 403 for the balance
    daemon()
    r = run_ctl("balance")
    assert r.returncode == 1 and "Permission denied" in r.stderr and "403" in r.stderr, r
    r = run_ctl("balance", "--json")
    assert r.returncode == 1 and r.stderr == "", r
    assert rpc_error_code(r) == -32003 and json_lines(r)[-1]["error"]["data"]["status"] == 403


@pytest.mark.parametrize(
    "args",
    [("--bogus",), ("chat", "--temperature", "-1", "x"), ("chat", "--max-tokens", "0", "x"), ("chat",),
     ("chat", "-i", "--json"), ("models", "get"), ("files", "upload"), ("files", "frobnicate"),
     ("conversations", "show"), ("tokens",), ("nosuchcommand",)],
    ids=lambda a: "-".join(a),
)
def test_bad_usage_is_exit_64(run_ctl: RunCtl, args: tuple[str, ...]) -> None:
    r = run_ctl(*args, input="")  # also: no prompt and an empty standard input
    assert r.returncode == 64, r
    assert r.stderr.strip(), r


def test_help_lists_the_exit_codes_and_every_subcommand(run_ctl: RunCtl) -> None:
    r = run_ctl("--help")
    assert r.returncode == 0, r
    codes = dict(re.findall(r"^  (\d+)\s+(.+)$", r.stdout, re.M))
    assert set(codes) == {"0", "1", "3", "4", "5", "6", "7", "8", "64", "130"}, r.stdout
    for sub in ("chat", "models", "embed", "tokens", "balance", "files", "conversations", "status", "usage", "log", "ai-check", "http-key"):
        assert re.search(rf"^  {sub}\s", r.stdout, re.M), sub
        assert run_ctl(sub, "--help").returncode == 0
    for group, subs in {"models": ("list", "get"), "files": ("upload", "list", "get", "download", "delete"),
                        "conversations": ("list", "show", "delete")}.items():
        for sub in subs:
            h = run_ctl(group, sub, "--help")
            assert h.returncode == 0 and "--json" in h.stdout, h


# --------------------------------------------------------------------------------------------------
# Colour


def test_no_escape_codes_on_a_pipe(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    run_ctl("chat", "-c", "c1", "привет")
    for args in (("status",), ("models",), ("balance",), ("conversations",), ("conversations", "show", "c1"),
                 ("chat", "ещё"), ("tokens", "x"), ("embed", "x")):
        r = run_ctl(*args)
        assert r.returncode == 0, r
        assert ESCAPE not in r.stdout and ESCAPE not in r.stderr, r


class Pty:
    """gigachatctl on a pseudo-terminal that is its controlling terminal, as a person runs it: Ctrl-C
    typed on it is SIGINT, and raw mode is really raw."""

    def __init__(self, binary: Path, testenv: TestEnv, *args: str, env: Optional[dict[str, Optional[str]]] = None,
                 columns: int = 200) -> None:
        self.testenv = testenv
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        setsid = shutil.which("setsid")
        assert setsid, "setsid (util-linux) is needed to give gigachatctl a controlling terminal"
        full_env = merge_env(testenv.base(), {"TERM": "xterm", **(env or {})})
        self.proc = subprocess.Popen(
            [setsid, "--ctty", str(binary), *args], stdin=slave, stdout=slave, stderr=slave,
            env=full_env, cwd=testenv.root, close_fds=True,
        )
        os.close(slave)
        self.raw = b""
        self.mark = 0  # expect() looks at output after this offset

    def _read(self, timeout: float) -> bool:
        readable, _, _ = select.select([self.master], [], [], timeout)
        if not readable:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the other side is gone
            return False
        self.raw += data
        return bool(data)

    @property
    def text(self) -> str:
        """Everything shown so far, escape sequences and carriage returns removed."""
        return ANSI.sub("", self.raw.decode("utf-8", "replace")).replace("\r", "")

    def expect(self, needle: str, timeout: float = 10.0) -> str:
        """Wait until `needle` appears after the mark; move the mark past it."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text
            at = text.find(needle, self.mark)
            if at >= 0:
                self.mark = at + len(needle)
                return text
            remaining = deadline - time.monotonic()
            exited = self.proc.poll() is not None
            if remaining <= 0 or (not self._read(min(remaining, 0.1)) and exited):
                if self.text.find(needle, self.mark) >= 0:
                    continue
                status = f"exited with {self.proc.returncode}" if exited else "still running"
                raise AssertionError(f"{needle!r} did not appear (gigachatctl {status}); after the mark the terminal "
                                     f"shows:\n{text[self.mark:]}")

    def send(self, data: str | bytes) -> None:
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def wait(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        while self._read(0.05):
            pass
        return self.proc.wait(max(0.1, deadline - time.monotonic()))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        while self._read(0.01):
            pass
        os.close(self.master)
        self.testenv.outputs.append(self.raw)


@pytest.fixture
def pty_ctl(gigachatctl_bin: Path, testenv: TestEnv) -> Any:
    """``pty_ctl(*args, env=None)``: gigachatctl on a terminal (closed at teardown)."""
    opened: list[Pty] = []

    def start(*args: str, env: Optional[dict[str, Optional[str]]] = None, columns: int = 200) -> Pty:
        p = Pty(gigachatctl_bin, testenv, *args, env=env, columns=columns)
        opened.append(p)
        return p

    yield start
    for p in opened:
        p.close()


def test_colour_on_a_terminal_and_never_with_no_color(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    daemon()
    t = pty_ctl("models")
    assert t.wait() == 0
    assert "\x1b[1mID\x1b[0m" in t.raw.decode(), "a table's header is bold on a terminal"
    t = pty_ctl("models", env={"NO_COLOR": "1"})
    assert t.wait() == 0
    assert b"\x1b" not in t.raw and "GigaChat-2-Pro" in t.text
    t = pty_ctl("status", env={"NO_COLOR": "1"})
    assert t.wait() == 0 and b"\x1b" not in t.raw


# --------------------------------------------------------------------------------------------------
# Control characters from the model: shown on a terminal, passed through to scripts

# Colour, a bell, a C1 CSI (U+009B) that clears the screen, DEL, a carriage return; tab and newline stay.
HOSTILE = "\x1b[31mred\x1b[0m\x07 \x9b2J\x7f\rok\tdone\n"
SHOWN = "^[[31mred^[[0m^G \\u{9B}2J^?^Mok\tdone"


def assert_shown_not_obeyed(t: "Pty") -> None:
    # The pty turns \n into \r\n; nothing else may reach the terminal raw.
    screen = t.raw.decode("utf-8", "replace").replace("\r\n", "\n")
    assert SHOWN in screen, screen
    for raw in ("\x1b[31m", "\x07", "\x9b", "\x7f", "\rok"):
        assert raw not in screen, f"{raw!r} reached the terminal: {screen!r}"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_control_characters_are_shown_on_a_terminal(
    fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any, stream: bool
) -> None:
    fake_api.configure(reply=HOSTILE, chunks=5)
    daemon()
    t = pty_ctl("chat", "hi", *(() if stream else ("--no-stream",)))
    assert t.wait() == 0
    assert_shown_not_obeyed(t)
    assert b"\x1b" not in t.raw, t.raw


def test_raw_and_pipes_get_the_exact_bytes(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any, run_ctl: RunCtl) -> None:
    fake_api.configure(reply=HOSTILE, chunks=5)
    daemon()
    t = pty_ctl("chat", "--raw", "hi")
    assert t.wait() == 0
    # The terminal driver only adds a CR before each LF.
    assert HOSTILE.replace("\n", "\r\n").encode() in t.raw, t.raw
    for args in (("chat", "hi"), ("chat", "--raw", "hi"), ("chat", "--no-stream", "hi")):
        r = run_ctl(*args)
        assert r.returncode == 0, r
        assert r.stdout_bytes == HOSTILE.encode(), r.stdout_bytes


def test_stored_conversations_are_shown_safely(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any, run_ctl: RunCtl) -> None:
    fake_api.configure(reply=HOSTILE)
    daemon()
    assert run_ctl("chat", "-c", "esc", "hi").returncode == 0
    t = pty_ctl("conversations", "show", "esc", env={"NO_COLOR": "1"})
    assert t.wait() == 0
    assert_shown_not_obeyed(t)
    assert b"\x1b" not in t.raw, t.raw
    t = pty_ctl("conversations", "show", "--raw", "esc", env={"NO_COLOR": "1"})
    assert t.wait() == 0
    assert b"\x1b[31mred\x1b[0m\x07" in t.raw, t.raw
    r = run_ctl("conversations", "show", "esc")
    assert r.returncode == 0 and HOSTILE.encode() in r.stdout_bytes, r


def test_the_repl_shows_control_characters(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    fake_api.configure(reply=HOSTILE, chunks=5)
    daemon()
    t = pty_ctl("chat", "-i", env={"NO_COLOR": "1"})
    t.expect("› ")
    t.send("hi\r")
    t.expect("done")
    t.expect("› ")
    t.send(CTRL_D)
    assert t.wait() == 0
    assert_shown_not_obeyed(t)


def test_errors_are_shown_safely_on_a_terminal(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any, run_ctl: RunCtl) -> None:
    # The daemon may already clean the API's message; whatever it passes on must not reach the terminal raw.
    fake_api.inject("v2", "status", status=400, message="bad \x1b]0;pwned\x07 request", times=-1)
    daemon()
    for args in (("chat", "hi"), ("chat", "--raw", "hi")):  # --raw is about the reply, never about stderr
        t = pty_ctl(*args, env={"NO_COLOR": "1"})
        assert t.wait() == 1
        assert "pwned" in t.text and "request" in t.text, t.raw
        assert b"\x1b" not in t.raw and b"\x07" not in t.raw, t.raw
    r = run_ctl("chat", "hi")
    assert r.returncode == 1 and "pwned" in r.stderr, r
    # An error the client words itself, quoting text it was given, is made visible the same way.
    name = "no\x1b[31mfile.json"
    t = pty_ctl("chat", "--function", name, "hi", env={"NO_COLOR": "1"})
    assert t.wait() == 64
    assert "no^[[31mfile.json" in t.raw.decode(), t.raw
    assert b"\x1b" not in t.raw, t.raw
    r = run_ctl("chat", "--function", name, "hi")
    assert r.returncode == 64 and name in r.stderr, r


# --------------------------------------------------------------------------------------------------
# The REPL

UP, LEFT, RIGHT = "\x1b[A", "\x1b[D", "\x1b[C"
CTRL_A, CTRL_C, CTRL_D, CTRL_E, CTRL_U, CTRL_W = "\x01", "\x03", "\x04", "\x05", "\x15", "\x17"


def test_repl_keeps_the_conversation_and_obeys_commands(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    daemon()
    t = pty_ctl("chat", "-i", "-m", "GigaChat-2")
    t.expect("› ")
    t.send("раз\r")
    t.expect("Echo: раз")
    t.expect("› ")
    t.send("два\r")
    t.expect("Echo: два")
    t.expect("› ")
    body = last_body(fake_api)
    assert body["model"] == "GigaChat-2" and body["stream"] is True
    assert plain(body["messages"]) == [
        {"role": "user", "content": "раз"}, {"role": "assistant", "content": "Echo: раз"}, {"role": "user", "content": "два"},
    ]

    t.send("/model GigaChat-2-Max\r")
    t.expect("Model: GigaChat-2-Max.")
    t.send("/system Отвечай кратко\r")
    t.expect("System prompt set.")
    t.send("три\r")
    t.expect("Echo: три")
    body = last_body(fake_api)
    assert body["model"] == "GigaChat-2-Max"
    assert plain(body["messages"])[0] == {"role": "system", "content": "Отвечай кратко"}
    assert len(body["messages"]) == 6

    t.send("/reset\r")
    t.expect("afresh")
    t.send("четыре\r")
    t.expect("Echo: четыре")
    assert plain(last_body(fake_api)["messages"]) == [
        {"role": "system", "content": "Отвечай кратко"}, {"role": "user", "content": "четыре"},
    ]
    t.send("/nonsense\r")
    t.expect("/help")
    t.send("/exit\r")
    assert t.wait() == 0
    assert len(chats(fake_api)) == 4, "commands are not sent to the model"


def test_repl_line_editing_and_history(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    daemon()
    t = pty_ctl("chat", "-i")

    def turn(keys: str, sent: str) -> None:
        t.expect("› ")  # the editor is in raw mode only once it has drawn its prompt
        count = len(chats(fake_api))
        t.send(keys)
        t.expect("Echo: " + sent)
        assert len(chats(fake_api)) == count + 1
        assert plain(last_body(fake_api)["messages"])[-1]["content"] == sent

    turn("прмир" + LEFT * 3 + "ивет " + "\r", "привет мир")  # Cyrillic: moves by characters, not bytes
    turn("world" + CTRL_A + "hello " + CTRL_E + "!\r", "hello world!")
    turn("junk" + CTRL_U + "one two" + CTRL_W + "three" + "\x7f" * 2 + "ee\r", "one three")
    turn(UP + UP + "\r", "hello world!")  # two lines back
    turn("draft" + UP + "\x1b[B" + " kept\r", "draft kept")  # Down gives the draft back
    turn(UP + "\x1b[H" + "\x1b[3~" + "Z" + "\x1bOF" + "z\r", "Zraft keptz")  # Home, Delete, End as terminals send them

    t.expect("› ")
    t.send("abc" + CTRL_C)  # drops the line, stays in the REPL
    t.expect("^C")
    t.expect("› ")
    t.send(CTRL_D)
    assert t.wait() == 0
    assert len(chats(fake_api)) == 6


def test_repl_streams_and_ctrl_c_cancels_only_the_reply(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    fake_api.configure(chunks=10, chunk_interval=0.4)
    d = daemon()
    t = pty_ctl("chat", "-i")
    t.expect("› ")
    t.send("раз два три четыре пять шесть\r")
    t.expect("Ec")
    # The first piece is on screen while the API is still sending: the reply streams.
    assert fake_api.state.chat_in_flight == 1
    t.send(CTRL_C)
    t.expect("(cancelled)")
    t.expect("› ")
    assert fake_api.wait_for(lambda s: any(x["route"] == V2_CHAT_PATH for x in s.disconnects), 5), \
        "the upstream transfer was not aborted"
    fake_api.configure(chunk_interval=0.0)
    t.send("снова\r")
    t.expect("Echo: снова")
    # The cancelled turn is not part of the history.
    assert plain(last_body(fake_api)["messages"]) == [{"role": "user", "content": "снова"}]
    t.send("/exit\r")
    assert t.wait() == 0
    assert d.running


def test_repl_with_a_daemon_conversation(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any, run_ctl: RunCtl, testenv: TestEnv) -> None:
    daemon()
    assert run_ctl("chat", "-c", "repl", "до").returncode == 0
    t = pty_ctl("chat", "-i", "-c", "repl")
    t.expect("conversation repl")
    t.expect("› ")
    t.send("после\r")
    t.expect("Echo: после")
    assert [m["content"] for m in plain(last_body(fake_api)["messages"])] == ["до", "Echo: до", "после"]
    t.send("/reset\r")
    t.expect("[y/N]")  # a named conversation is deleted only when the user says so
    t.send("y\r")
    t.expect("deleted")
    assert not (testenv.state / "gigachat" / "conversations" / "repl.json").exists()
    t.send("заново\r")
    t.expect("Echo: заново")
    assert plain(last_body(fake_api)["messages"]) == [{"role": "user", "content": "заново"}]
    t.expect("› ")
    t.send(CTRL_D)
    assert t.wait() == 0


def test_repl_reads_plain_lines_from_a_pipe(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    r = run_ctl("chat", "-i", input="раз\n/model GigaChat-2-Pro\n\nдва\n")
    assert r.returncode == 0, r
    assert r.stdout == "Echo: раз\nModel: GigaChat-2-Pro.\nEcho: два\n", r
    body = last_body(fake_api)
    assert body["model"] == "GigaChat-2-Pro" and len(body["messages"]) == 3
    # A script learns about a failed last turn from the exit status.
    r = run_ctl("chat", "-i", "-m", "GigaChat-Nonexistent", input="раз\n")
    assert r.returncode == 1 and "No such model" in r.stderr, r


# --------------------------------------------------------------------------------------------------
# Ctrl-C


def test_ctrl_c_cancels_the_request_and_exits_130(
    fake_api: FakeGigaChat, daemon: DaemonFactory, ctl_popen: Callable[..., Any], run_ctl: RunCtl
) -> None:
    fake_api.configure(chunks=20, chunk_interval=0.3)
    d = daemon()
    p = ctl_popen("chat", "медленно и долго отвечай")
    first = p.stdout.read(2)
    assert first, p.stderr.read()
    p.send_signal(signal.SIGINT)
    assert p.wait(10) == 130
    out = first + p.stdout.read()
    assert out.decode().endswith("\n"), "the partial line is ended"
    assert fake_api.wait_for(lambda s: any(x["route"] == V2_CHAT_PATH for x in s.disconnects), 5), \
        "the fake did not see its connection closed"
    assert chats(fake_api)[-1].events_sent < 20
    # The daemon is healthy: it answers, and nothing is left running.
    assert d.running
    assert wait_until(lambda: final_result(run_ctl("status", "--json"))["requests"]["in_flight"] == 0)
    fake_api.configure(chunk_interval=0.0)
    r = run_ctl("chat", "снова")
    assert r.returncode == 0 and r.stdout == "Echo: снова\n", r


# --------------------------------------------------------------------------------------------------
# Completions, man page, start-up


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(run_ctl: RunCtl, shell: str) -> None:
    r = run_ctl("--generate-completion-script", shell)
    assert r.returncode == 0, r
    for sub in ("chat", "models", "embed", "tokens", "balance", "files", "conversations", "status", "upload"):
        assert sub in r.stdout, (shell, sub)
    if shell == "bash":
        check = subprocess.run(["bash", "-n"], input=r.stdout, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr


def test_completion_of_conversation_names_asks_the_daemon(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: RunCtl) -> None:
    daemon()
    run_ctl("chat", "-c", "alpha", "x")
    run_ctl("chat", "-c", "beta", "x")
    r = run_ctl("---completion", "conversations", "show", "--", "positional@0", "3", "0")
    assert r.returncode == 0 and r.stdout.split() == ["alpha", "beta"], r


def test_completion_without_a_daemon_completes_nothing(run_ctl: RunCtl) -> None:
    r = run_ctl("---completion", "chat", "--", "--conversation", "2", "0")
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr == "", r


def test_man_page_is_current(run_ctl: RunCtl) -> None:
    """docs/gigachatctl.1 is generated (docs/generate-manual.sh); this catches a stale one."""
    page = (REPO_ROOT / "docs" / "gigachatctl.1").read_text(encoding="utf-8")
    assert page.startswith('.\\" "Generated by swift-argument-parser"')
    for sub in ("chat", "models", "embed", "tokens", "balance", "files", "conversations", "status", "usage", "log", "ai-check", "http-key"):
        assert f".It Em {sub}" in page, f"{sub} is missing from the man page: run docs/generate-manual.sh"
    help_text = run_ctl("--help").stdout
    section = page.split('.Sh "EXIT STATUS"', 1)[1]
    for code, meaning in re.findall(r"^  (\d+)\s+(.+)$", help_text, re.M):
        assert f".It {code}\n{meaning}\n" in section, f"exit code {code} differs: run docs/generate-manual.sh"
    for option in ("interactive", "conversation", "function", "no-stream", "json", "socket", "continue", "file",
                   "extract", "role", "usage", "timeout", "connect-timeout", "api", "web-search", "read-urls", "code",
                   "image", "output-dir", "reasoning", "schema", "regex", "attach", "quiet", "since", "until", "by", "csv",
                   "lines", "follow", "outcome"):
        assert re.search(rf"\.It Fl (?:\w , )?-{option}\b", page), option
    if shutil.which("man"):
        rendered = subprocess.run(["man", "-l", str(REPO_ROOT / "docs" / "gigachatctl.1")], capture_output=True, text=True,
                                  env={**os.environ, "MANWIDTH": "100", "MANPAGER": "cat"})
        assert rendered.returncode == 0 and "EXIT STATUS" in rendered.stdout, rendered.stderr
        assert "warning" not in rendered.stderr, rendered.stderr


def test_links_nothing_it_does_not_need(gigachatctl_bin: Path) -> None:
    out = subprocess.run(["ldd", str(gigachatctl_bin)], capture_output=True, text=True).stdout
    for library in ("libcurl", "libsystemd", "libFoundation.so", "libFoundationNetworking", "libssl", "libNIO"):
        assert library not in out, f"gigachatctl links {library}:\n{out}"


def test_start_up_is_fast(gigachatctl_bin: Path, testenv: TestEnv) -> None:
    """The target is a median under 10 ms for a release build; debug builds and busy CI machines get
    a generous bound, enough to catch something heavy being linked or done at start-up."""
    env = testenv.base()
    times = []
    for _ in range(15):
        start = time.perf_counter()
        subprocess.run([str(gigachatctl_bin), "--version"], env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    assert median < 0.15, f"median start-up {median * 1000:.1f} ms"
