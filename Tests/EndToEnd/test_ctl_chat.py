"""`gigachatctl chat` with the habits of `llm`, `sgpt`, `ollama` and `aichat` users: context from
pipes and files, --continue, roles and a client-side default model, -x, a terminal rendering of the
reply, --usage, and notices for a cut-off reply and a new conversation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fake_gigachat import FakeGigaChat
from harness import DaemonFactory, TestEnv
from test_ctl import pty_ctl  # noqa: F401  (a fixture)


def chats(fake: FakeGigaChat) -> list[Any]:
    """The chats gigachatctl sent upstream: chat.create, on the v2 endpoint, unless --api v1."""
    return fake.state.v2_chat_requests


def plain(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """v2 messages as role and text, the way v1 spells them, for comparing turns."""
    return [{"role": m["role"], "content": "".join(p.get("text", "") for p in m["content"])} for m in messages]


def sent(fake: FakeGigaChat) -> list[dict[str, Any]]:
    return plain(chats(fake)[-1].json["messages"])


# --------------------------------------------------------------------------------------------------
# Context from pipes and files


def test_piped_input_follows_the_prompt(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    r = run_ctl("chat", "review this", input="diff --git a/x b/x\n+new line\n")
    assert r.returncode == 0, r
    assert sent(fake_api) == [{"role": "user", "content": "review this\n\ndiff --git a/x b/x\n+new line"}]


def test_files_are_added_after_the_prompt_and_the_pipe(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv
) -> None:
    daemon()
    (testenv.root / "a.txt").write_text("текст А\n", encoding="utf-8")
    (testenv.root / "b.txt").write_text("текст Б", encoding="utf-8")
    r = run_ctl("chat", "-f", "a.txt", "сравни", "--file", "b.txt", input="из трубы\n")
    assert r.returncode == 0, r
    assert sent(fake_api)[-1]["content"] == "сравни\n\nиз трубы\n\nтекст А\n\nтекст Б"
    r = run_ctl("chat", "-f", "a.txt")  # a file alone is a prompt
    assert r.returncode == 0 and sent(fake_api)[-1]["content"] == "текст А", r


@pytest.mark.parametrize("name,content", [("missing.txt", None), ("binary.bin", b"\x00\x01\x02")])
def test_a_bad_file_is_bad_usage(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv, name: str, content: Any
) -> None:
    daemon()
    if content is not None:
        (testenv.root / name).write_bytes(content)
    r = run_ctl("chat", "-f", name, "что тут?")
    assert r.returncode == 64, r
    assert r.stderr.startswith("gigachatctl: ") and name in r.stderr and len(r.stderr.splitlines()) == 1, r
    assert not chats(fake_api)


def test_files_go_with_the_first_turn_of_the_repl(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    (testenv.root / "notes.txt").write_text("заметки", encoding="utf-8")
    r = run_ctl("chat", "-i", "-f", "notes.txt", input="первый\nвторой\n")
    assert r.returncode == 0, r
    first, second = chats(fake_api)
    assert plain(first.json["messages"])[-1]["content"] == "первый\n\nзаметки"
    assert plain(second.json["messages"])[-1]["content"] == "второй"


# --------------------------------------------------------------------------------------------------
# --continue


def test_continue_an_unnamed_chat(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    assert run_ctl("chat", "-s", "Будь краток", "-m", "GigaChat-2", "раз").returncode == 0
    r = run_ctl("chat", "-C", "два")
    assert r.returncode == 0 and r.stdout == "Echo: два\n", r
    body = chats(fake_api)[-1].json
    assert plain(body["messages"]) == [
        {"role": "system", "content": "Будь краток"}, {"role": "user", "content": "раз"},
        {"role": "assistant", "content": "Echo: раз"}, {"role": "user", "content": "два"},
    ]
    assert body["model"] == "GigaChat-2", "the continued chat keeps its model"
    assert "conversation" not in body
    r = run_ctl("chat", "--continue", "-m", "GigaChat-2-Max", "три")
    assert r.returncode == 0, r
    assert [m["content"] for m in sent(fake_api)] == ["Будь краток", "раз", "Echo: раз", "два", "Echo: два", "три"]
    assert chats(fake_api)[-1].json["model"] == "GigaChat-2-Max"
    last = testenv.state / "gigachat" / "last-chat.json"
    assert last.stat().st_mode & 0o777 == 0o600
    # A new unnamed chat replaces it.
    assert run_ctl("chat", "заново").returncode == 0
    assert run_ctl("chat", "-C", "и дальше").returncode == 0
    assert [m["content"] for m in sent(fake_api)] == ["заново", "Echo: заново", "и дальше"]


def test_continue_a_named_conversation(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    assert run_ctl("chat", "-c", "work", "первый").returncode == 0
    r = run_ctl("chat", "-C", "второй")
    assert r.returncode == 0, r
    # gigachatd keeps the thread: it sent the stored turns before the new one.
    assert [m["content"] for m in sent(fake_api)] == ["первый", "Echo: первый", "второй"]
    r = run_ctl("chat", "-C", "-c", "work", "x")
    assert r.returncode == 64 and "--continue" in r.stderr, r


def test_continue_with_nothing_to_continue_starts_afresh(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    r = run_ctl("chat", "-C", "привет")
    assert r.returncode == 0 and r.stdout == "Echo: привет\n" and r.stderr == "", r


def test_the_repl_continues_and_is_continued(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    assert run_ctl("chat", "раз").returncode == 0
    r = run_ctl("chat", "-i", "-C", input="два\n")
    assert r.returncode == 0, r
    assert [m["content"] for m in sent(fake_api)] == ["раз", "Echo: раз", "два"]
    assert run_ctl("chat", "-C", "три").returncode == 0
    assert [m["content"] for m in sent(fake_api)] == ["раз", "Echo: раз", "два", "Echo: два", "три"]


def test_json_chats_are_continued_too(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    assert run_ctl("chat", "--json", "раз").returncode == 0
    assert run_ctl("chat", "-C", "--json", "два").returncode == 0
    assert [m["content"] for m in sent(fake_api)] == ["раз", "Echo: раз", "два"]


# --------------------------------------------------------------------------------------------------
# Roles and the client's default model


def write_role(testenv: TestEnv, name: str, text: str) -> Path:
    roles = testenv.config / "gigachat" / "roles"
    roles.mkdir(parents=True, exist_ok=True)
    path = roles / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_role_gives_the_system_prompt_and_defaults(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    write_role(testenv, "reviewer", "---\nmodel: GigaChat-2-Pro\ntemperature: 0.2\nmax_tokens: 300\n---\nТы ревьюер. Кратко.\n")
    r = run_ctl("chat", "--role", "reviewer", "посмотри")
    assert r.returncode == 0, r
    body = chats(fake_api)[-1].json
    assert body["model"] == "GigaChat-2-Pro" and body["model_options"] == {"temperature": pytest.approx(0.2), "max_tokens": 300}
    assert plain(body["messages"]) == [{"role": "system", "content": "Ты ревьюер. Кратко."}, {"role": "user", "content": "посмотри"}]
    # The command line beats the role.
    assert run_ctl("chat", "-r", "reviewer", "-m", "GigaChat-2-Max", "-s", "Другое", "x").returncode == 0
    body = chats(fake_api)[-1].json
    assert body["model"] == "GigaChat-2-Max" and plain(body["messages"])[0]["content"] == "Другое"
    # A role without a header is just a system prompt; NAME.md works too; $GIGACHATCTL_ROLE is the default.
    write_role(testenv, "plain.md", "Отвечай стихами.\n")
    assert run_ctl("chat", "x", env={"GIGACHATCTL_ROLE": "plain"}).returncode == 0
    body = chats(fake_api)[-1].json
    assert plain(body["messages"])[0] == {"role": "system", "content": "Отвечай стихами."}
    assert body["model"] == "GigaChat", "a role without a model leaves it to the daemon"


@pytest.mark.parametrize("name,text,complaint", [
    ("nosuch", None, "no role nosuch"),
    ("../escape", None, "not a role name"),
    ("badkey", "---\ncolour: red\n---\nx\n", "unknown key colour"),
    ("badtemp", "---\ntemperature: hot\n---\nx\n", "temperature"),
    ("unclosed", "---\nmodel: GigaChat\n", "closing ---"),
])
def test_a_bad_role_is_bad_usage(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv, name: str, text: Any, complaint: str
) -> None:
    daemon()
    if text is not None:
        write_role(testenv, name, text)
    r = run_ctl("chat", "--role", name, "x")
    assert r.returncode == 64 and complaint in r.stderr and r.stderr.startswith("gigachatctl: "), r
    assert not chats(fake_api)


def test_the_client_default_model(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    conf = testenv.config / "gigachat" / "gigachatctl.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("# mine\nGIGACHATCTL_MODEL = GigaChat-2-Pro\n", encoding="utf-8")
    assert run_ctl("chat", "x").returncode == 0
    assert chats(fake_api)[-1].json["model"] == "GigaChat-2-Pro"
    assert run_ctl("chat", "x", env={"GIGACHATCTL_MODEL": "GigaChat-2-Max"}).returncode == 0
    assert chats(fake_api)[-1].json["model"] == "GigaChat-2-Max", "the environment beats the file"
    assert run_ctl("chat", "-m", "GigaChat-2", "x", env={"GIGACHATCTL_MODEL": "GigaChat-2-Max"}).returncode == 0
    assert chats(fake_api)[-1].json["model"] == "GigaChat-2"
    assert run_ctl("tokens", "abc").returncode == 0
    assert fake_api.state.requests_to("/tokens/count")[-1].json["model"] == "GigaChat-2-Pro"
    conf.write_text("MODEL=x\n", encoding="utf-8")
    r = run_ctl("chat", "x")
    assert r.returncode == 64 and "unknown setting MODEL" in r.stderr, r


# --------------------------------------------------------------------------------------------------
# -x, rendering, --usage, notices

CODE_REPLY = "Вот так:\n\n```bash\nfind . -size +1M\nls -l\n```\n\nИ ещё:\n```\nsecond\n```\n"


def test_extract_prints_the_first_code_block(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, pty_ctl: Any) -> None:
    fake_api.configure(reply=CODE_REPLY, chunks=9)
    daemon()
    for args in (("-x",), ("--extract", "--no-stream")):
        r = run_ctl("chat", *args, "команда?")
        assert r.returncode == 0 and r.stdout == "find . -size +1M\nls -l\n", r
    t = pty_ctl("chat", "-x", "команда?")
    assert t.wait() == 0
    assert t.text.strip() == "find . -size +1M\nls -l", t.raw
    fake_api.configure(reply="Без кода.")
    r = run_ctl("chat", "-x", "x")
    assert r.returncode == 0 and r.stdout == "Без кода.\n", r
    assert run_ctl("chat", "-x", "--json", "x").returncode == 64
    assert run_ctl("chat", "-x", "-i", "x").returncode == 64


MARKDOWN = "# Заголовок\n\nЭто **жирно** и `код`.\n\n```python\nprint(1)\n```\nКонец.\n"


def test_markdown_is_rendered_on_a_terminal_only(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, pty_ctl: Any) -> None:
    fake_api.configure(reply=MARKDOWN, chunks=11)
    daemon()
    t = pty_ctl("chat", "покажи")
    assert t.wait() == 0
    screen = t.raw.decode()
    assert "\x1b[1mЗаголовок\x1b[0m" in screen and "# " not in t.text, screen
    assert "\x1b[1mжирно\x1b[0m" in screen and "**" not in t.text, screen
    assert "\x1b[36mкод\x1b[0m" in screen, screen
    assert "\x1b[2m```python\x1b[0m" in screen and "\x1b[36mpr" in screen and "print(1)" in t.text, screen
    # Without colour the text is only wrapped; --raw and pipes get it exactly.
    t = pty_ctl("chat", "покажи", env={"NO_COLOR": "1"})
    assert t.wait() == 0 and b"\x1b[1m" not in t.raw and "**жирно**" in t.text
    t = pty_ctl("chat", "покажи", env={"TERM": "dumb"})
    assert t.wait() == 0 and b"\x1b[1m" not in t.raw and "**жирно**" in t.text
    t = pty_ctl("chat", "--raw", "покажи")
    assert t.wait() == 0 and MARKDOWN.replace("\n", "\r\n").encode() in t.raw
    r = run_ctl("chat", "покажи")
    assert r.returncode == 0 and r.stdout == MARKDOWN, r


def test_long_replies_wrap_between_words_on_a_terminal(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, pty_ctl: Any) -> None:
    words = ["слово", "длинноеслово", "и", "ещё"] * 12
    fake_api.configure(reply=" ".join(words), chunks=17)
    daemon()
    t = pty_ctl("chat", "--no-stream", "x", columns=32)
    assert t.wait() == 0
    lines = [line for line in t.text.split("\n") if line]
    assert len(lines) > 3 and all(len(line) <= 32 for line in lines), lines
    assert " ".join(lines).split() == words, "a word was cut"
    t = pty_ctl("chat", "x", columns=32)
    assert t.wait() == 0 and " ".join(line for line in t.text.split("\n") if line).split() == words
    r = run_ctl("chat", "x")
    assert r.stdout == " ".join(words) + "\n", "a pipe gets the lines as sent"


USAGE = re.compile(r"^usage: (\d+) tokens in \((\d+) cached\), (\d+) out; \d+\.\d\d s(, first text after \d+\.\d\d s)?$")


@pytest.mark.parametrize("flag", ["-u", "--usage", "--verbose"])
def test_usage_footer(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, flag: str) -> None:
    daemon()
    r = run_ctl("chat", flag, "сколько?")
    assert r.returncode == 0 and r.stdout == "Echo: сколько?\n", r
    m = USAGE.match(r.stderr.strip())
    assert m, r.stderr
    usage = chats(fake_api)[-1].usage
    assert (int(m[1]), int(m[2]), int(m[3])) == (usage["input_tokens"], usage["input_tokens_details"]["cached_tokens"], usage["output_tokens"])
    assert m[4], "a streamed reply says when its first text came"
    r = run_ctl("chat", "--no-stream", flag, "x")
    assert USAGE.match(r.stderr.strip()) and "first text" not in r.stderr, r
    r = run_ctl("chat", "--json", flag, "x")
    assert r.returncode == 0 and r.stderr == "", "--json keeps stderr empty; the usage is in the result"


def test_usage_in_the_repl(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    r = run_ctl("chat", "-i", "-u", input="раз\nдва\n")
    assert r.returncode == 0, r
    assert len([line for line in r.stderr.splitlines() if USAGE.match(line)]) == 2, r


def test_a_reply_cut_at_its_length_is_said_on_a_terminal(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, pty_ctl: Any) -> None:
    fake_api.inject("v2", "none", finish_reason="length", times=-1)
    daemon()
    t = pty_ctl("chat", "--max-tokens", "5", "длинный ответ")
    assert t.wait() == 0
    assert "cut off at its length limit" in t.text, t.text
    r = run_ctl("chat", "длинный ответ")
    assert r.returncode == 0 and r.stderr == "", "a script's stderr gets errors only"
    r = run_ctl("chat", "--json", "длинный ответ")
    final = json.loads(r.stdout.splitlines()[-1])
    assert final["result"]["finish_reason"] == "length"
    assert any(json.loads(line).get("params", {}).get("data", {}).get("finish_reason") == "length" for line in r.stdout.splitlines()[:-1])


def test_a_new_conversation_is_named_on_a_terminal(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, pty_ctl: Any) -> None:
    daemon()
    assert run_ctl("chat", "-c", "release", "x").returncode == 0
    t = pty_ctl("chat", "-c", "relaese", "опечатка")
    assert t.wait() == 0 and "new conversation relaese" in t.text, t.text
    t = pty_ctl("chat", "-c", "release", "дальше")
    assert t.wait() == 0 and "new conversation" not in t.text, t.text
    r = run_ctl("chat", "-c", "another", "x")
    assert r.returncode == 0 and r.stderr == "", r
