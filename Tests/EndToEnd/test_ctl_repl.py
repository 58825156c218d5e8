"""The REPL the way people use `ollama run` and `llm chat`: `chat` alone on a terminal
talks, a paste or a \"\"\" block is one turn, the history survives the session in a private file, long
lines wrap so the scrollback keeps them, and /reset asks before deleting a named conversation.

Everything runs on a pseudo-terminal, as a person would see it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fake_gigachat import FakeGigaChat
from harness import DaemonFactory, TestEnv
from test_ctl import ANSI, CTRL_A, CTRL_D, UP, chats, plain, pty_ctl  # noqa: F401  (pty_ctl is a fixture)

PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


def sent(fake: FakeGigaChat) -> str:
    return plain(chats(fake)[-1].json["messages"])[-1]["content"]


def test_chat_without_a_prompt_on_a_terminal_talks(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    daemon()
    t = pty_ctl("chat")
    t.expect("Talking in a new conversation")
    t.expect("› ")
    t.send("привет\r")
    t.expect("Echo: привет")
    t.expect("› ")
    t.send(CTRL_D)
    assert t.wait() == 0


def test_a_paste_of_several_lines_is_one_turn(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    daemon()
    t = pty_ctl("chat", "-i", env={"NO_COLOR": "1"})
    t.expect("› ")
    assert "\x1b[?2004h" in t.raw.decode(), "bracketed paste is not switched on while a line is read"
    # Terminals send a paste's line breaks as CR, exactly what Enter sends.
    t.send(PASTE_START + "первая строка\rвторая строка\r\tс отступом" + PASTE_END)
    t.send(" и ещё\r")
    t.expect("Echo: первая строка")
    t.expect("› ")
    assert len(chats(fake_api)) == 1, "the paste became several turns"
    assert sent(fake_api) == "первая строка\nвторая строка\n\tс отступом и ещё"
    t.send(CTRL_D)
    assert t.wait() == 0
    assert "\x1b[?2004l" in t.raw.decode(), "bracketed paste is left on"


def test_a_triple_quote_block_is_one_turn(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    daemon()
    t = pty_ctl("chat", "-i", env={"NO_COLOR": "1"})
    t.expect("› ")
    t.send('"""\r')
    t.expect("… ")
    t.send("раз\r")
    t.expect("… ")
    t.send('два"""\r')
    t.expect("Echo: раз")
    t.expect("› ")
    t.send('"""одной строкой"""\r')
    t.expect("Echo: одной строкой")
    t.expect("› ")
    assert [plain(r.json["messages"])[-1]["content"] for r in chats(fake_api)] == ["раз\nдва", "одной строкой"]
    t.send(CTRL_D)
    assert t.wait() == 0


def test_a_triple_quote_block_from_a_pipe(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    r = run_ctl("chat", "-i", input='"""\nстрока 1\nстрока 2\n"""\nпотом\n')
    assert r.returncode == 0, r
    assert [plain(q.json["messages"])[-1]["content"] for q in chats(fake_api)] == ["строка 1\nстрока 2", "потом"]


def test_history_is_kept_between_sessions_in_a_private_file(
    fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any, testenv: TestEnv
) -> None:
    daemon()
    t = pty_ctl("chat", "-i")
    t.expect("› ")
    t.send("первый вопрос\r")
    t.expect("Echo: первый вопрос")
    t.expect("› ")
    t.send(PASTE_START + "две\rстроки" + PASTE_END + "\r")
    t.expect("Echo: две")
    t.expect("› ")
    t.send(CTRL_D)
    assert t.wait() == 0

    history = testenv.state / "gigachat" / "history"
    assert history.is_file(), "no history file under $XDG_STATE_HOME/gigachat/"
    assert history.stat().st_mode & 0o777 == 0o600
    assert [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines()] == ["первый вопрос", "две\nстроки"]

    t = pty_ctl("chat", "-i")
    t.expect("› ")
    t.send(UP + UP + "\r")
    t.expect("Echo: первый вопрос")
    t.expect("› ")
    t.send(UP + UP + "\r")  # the newest first: "первый вопрос" just sent, then the pasted pair
    t.expect("Echo: ")
    t.expect("› ")
    assert sent(fake_api) == "две\nстроки"
    t.send(CTRL_D)
    assert t.wait() == 0


def test_a_piped_repl_keeps_no_history(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    assert run_ctl("chat", "-i", input="из скрипта\n").returncode == 0
    assert not (testenv.state / "gigachat" / "history").exists()


def test_a_long_line_wraps_so_the_scrollback_keeps_it(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    daemon()
    t = pty_ctl("chat", "-i", columns=30, env={"NO_COLOR": "1"})
    t.expect("› ")
    long = "слово " * 12
    t.send(long + CTRL_A + "X" + "\r")
    t.expect("Echo: X")
    assert sent(fake_api) == "X" + long
    # The last drawing of the line, before the reply: rows no wider than the terminal that together
    # hold the whole line, from the prompt on.
    screen = t.raw.decode()
    drawing = screen[: screen.index("Echo: X")]
    drawing = drawing[drawing.rindex("\x1b[J") + len("\x1b[J"):]
    rows = [ANSI.sub("", row).replace("\r", "") for row in drawing.split("\r\n")]
    rows = [row for row in rows if row]
    assert len(rows) >= 3, rows
    assert all(len(row) <= 30 for row in rows), rows
    assert "".join(rows).rstrip() == ("› X" + long).rstrip(), rows
    t.expect("› ")
    t.send(CTRL_D)
    assert t.wait() == 0


def test_reset_of_a_named_conversation_asks_first(
    fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any, run_ctl: Any, testenv: TestEnv
) -> None:
    daemon()
    assert run_ctl("chat", "-c", "keep", "до").returncode == 0
    stored = testenv.state / "gigachat" / "conversations" / "keep.json"
    t = pty_ctl("chat", "-i", "-c", "keep")
    t.expect("› ")
    t.send("/reset\r")
    t.expect("[y/N]")
    t.send("\r")  # the default is no
    t.expect("Kept conversation keep")
    assert stored.exists()
    t.expect("› ")
    t.send("/reset\r")
    t.expect("[y/N]")
    t.send("y\r")
    t.expect("deleted")
    assert not stored.exists()
    t.expect("› ")
    t.send(CTRL_D)
    assert t.wait() == 0
    # The answer is not a line worth recalling.
    history = (testenv.state / "gigachat" / "history").read_text(encoding="utf-8")
    assert '"y"' not in history and '"/reset"' in history


def test_reset_from_a_script_does_not_ask(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    daemon()
    assert run_ctl("chat", "-c", "scripted", "до").returncode == 0
    r = run_ctl("chat", "-i", "-c", "scripted", input="/reset\nпосле\n")
    assert r.returncode == 0 and "deleted" in r.stdout, r
    assert plain(chats(fake_api)[-1].json["messages"]) == [{"role": "user", "content": "после"}]


def test_the_repl_names_a_new_conversation(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any, run_ctl: Any) -> None:
    daemon()
    assert run_ctl("chat", "-c", "old", "x").returncode == 0
    t = pty_ctl("chat", "-i", "-c", "olld")
    t.expect("Talking in new conversation olld")
    t.expect("› ")
    t.send(CTRL_D)
    assert t.wait() == 0
    t = pty_ctl("chat", "-i", "-c", "old")
    text = t.expect("Talking in conversation old")
    assert "new conversation" not in text
    t.expect("› ")
    t.send(CTRL_D)
    assert t.wait() == 0


def test_the_repl_renders_and_wraps_replies(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    fake_api.configure(reply="Это **важно** и " + "слово " * 15, chunks=6)
    daemon()
    t = pty_ctl("chat", "-i", columns=40)
    t.expect("› ")
    t.send("hi\r")
    t.expect("слово\n")  # wrapped before the width was reached
    t.expect("› ")
    assert "\x1b[1mважно\x1b[0m" in t.raw.decode(), t.raw
    t.send(CTRL_D)
    assert t.wait() == 0
    assert re.search(r"\*\*", t.text) is None
    reply = [line for line in t.text.split("\n") if "слово" in line]
    assert len(reply) >= 2 and all(len(line) <= 40 for line in reply), reply
    assert " ".join(line.strip() for line in reply).split() == ("Это важно и " + "слово " * 15).split()
