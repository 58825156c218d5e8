"""The small things: bad usage said clearly, one date format, no bold on a dumb terminal,
completions that follow --socket and know the models, and the contrib clients' exit statuses.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from fake_gigachat import FakeGigaChat, make_test_key
from harness import REPO_ROOT, DaemonFactory, TestEnv, merge_env
from test_ctl import pty_ctl  # noqa: F401  (a fixture)

LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d$")
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_no_arguments_is_the_help_and_bad_usage(run_ctl: Any) -> None:
    r = run_ctl()
    assert r.returncode == 64, r
    assert r.stdout == "" and "USAGE: gigachatctl" in r.stderr and "SUBCOMMANDS" in r.stderr, r


@pytest.mark.parametrize("args,shown", [
    (("chat", "-5", "градусов", "это", "холодно?"), '"-5 градусов это холодно?"'),
    (("chat", "-hello", "world"), '"-hello world"'),
    (("chat", "-m", "GigaChat", "-вопрос"), '"-вопрос"'),
    (("tokens", "-abc"), '"-abc"'),
], ids=["number", "letters-that-include-h", "cyrillic", "tokens"])
def test_a_prompt_starting_with_a_dash_suggests_double_dash(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, args: tuple[str, ...], shown: str
) -> None:
    daemon()
    r = run_ctl(*args)
    assert r.returncode == 64, r
    assert "OVERVIEW" not in r.stdout + r.stderr, "the help was printed instead"
    assert f"gigachatctl {args[0]} -- {shown}" in r.stderr, r
    assert not fake_api.state.requests_to("/chat/completions")


def test_double_dash_sends_a_prompt_that_starts_with_a_dash(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    r = run_ctl("chat", "--", "-5", "градусов")
    assert r.returncode == 0 and r.stdout == "Echo: -5 градусов\n", r
    r = run_ctl("chat", "-s", "-коротко-", "x")
    assert r.returncode == 0 and fake_api.state.v2_chat_requests[-1].json["messages"][0]["content"] == [{"text": "-коротко-"}], r


@pytest.mark.parametrize("args,message", [
    (("chat", "--max-tokens", "-1", "x"), "--max-tokens must be at least 1 (got -1)"),
    (("chat", "--max-tokens", "0", "x"), "--max-tokens must be at least 1 (got 0)"),
    (("chat", "--temperature", "-0.5", "x"), "--temperature must be 0 or more (got -0.5)"),
    (("--socket", "", "status"), "--socket needs a path"),
    (("status", "--socket", ""), "--socket needs a path"),
])
def test_bad_values_say_what_is_wrong(run_ctl: Any, args: tuple[str, ...], message: str) -> None:
    r = run_ctl(*args)
    assert r.returncode == 64, r
    assert r.stderr.splitlines()[0].startswith("gigachatctl: " + message), r


def test_no_bold_on_a_dumb_terminal(fake_api: FakeGigaChat, daemon: DaemonFactory, pty_ctl: Any) -> None:
    daemon()
    t = pty_ctl("models", env={"TERM": "dumb"})
    assert t.wait() == 0
    assert b"\x1b" not in t.raw and "GigaChat-2-Pro" in t.text, t.raw
    t = pty_ctl("models")
    assert t.wait() == 0 and b"\x1b[1m" in t.raw


def test_one_date_format(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    assert run_ctl("chat", "-c", "dated", "x").returncode == 0
    rows = [re.split(r"\s{2,}", line.strip()) for line in run_ctl("conversations").stdout.splitlines()]
    assert rows[0] == ["NAME", "MESSAGES", "UPDATED"] and LOCAL_TIME.match(rows[1][2]), rows
    status = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in run_ctl("status").stdout.splitlines())
    assert LOCAL_TIME.match(status["token.valid_until"]), status
    listed = json.loads(run_ctl("conversations", "--json").stdout)["result"]["conversations"][0]
    assert ISO_TIME.match(listed["updated_at"]), listed
    assert ISO_TIME.match(json.loads(run_ctl("status", "--json").stdout)["result"]["token"]["valid_until"])
    # The table shows the JSON's moment in local time.
    r = run_ctl("status", env={"TZ": "UTC"})
    valid = json.loads(run_ctl("status", "--json").stdout)["result"]["token"]["valid_until"]
    shown = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in r.stdout.splitlines())["token.valid_until"]
    assert shown == valid[:10] + " " + valid[11:16], (shown, valid)


def test_upload_purpose_help_lists_its_values(run_ctl: Any) -> None:
    r = run_ctl("files", "upload", "--help")
    assert r.returncode == 0 and re.search(r"--purpose <purpose>\s+What the file is for: general .*assistant", r.stdout, re.S), r.stdout


def complete(run_ctl: Any, *command: str, argument: str, words: list[str]) -> list[str]:
    r = run_ctl("---completion", *command, "--", argument, str(len(words) - 1), "0", *words)
    assert r.returncode == 0 and r.stderr == "", r
    return r.stdout.split()


def test_completions_follow_socket_on_the_line(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv) -> None:
    custom = testenv.runtime / "elsewhere" / "d.sock"
    daemon(socket=custom)
    assert run_ctl("--socket", str(custom), "chat", "-c", "onlyhere", "x").returncode == 0
    assert complete(run_ctl, "conversations", "show", argument="positional@0",
                    words=["gigachatctl", "conversations", "show", ""]) == [], "the default socket has no daemon"
    assert complete(run_ctl, "conversations", "show", argument="positional@0",
                    words=["gigachatctl", "--socket", str(custom), "conversations", "show", ""]) == ["onlyhere"]
    assert complete(run_ctl, "chat", argument="--conversation",
                    words=["gigachatctl", "chat", f"--socket={custom}", "-c", ""]) == ["onlyhere"]


def test_completions_of_model_names(fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any) -> None:
    daemon()
    chat = complete(run_ctl, "chat", argument="--model", words=["gigachatctl", "chat", "-m", ""])
    assert "GigaChat-2-Pro" in chat and "Embeddings" not in chat, chat
    embed = complete(run_ctl, "embed", argument="--model", words=["gigachatctl", "embed", "-m", ""])
    assert "Embeddings" in embed and "GigaChat-2-Pro" not in embed, embed
    tokens = complete(run_ctl, "tokens", argument="--model", words=["gigachatctl", "tokens", "-m", ""])
    assert "GigaChat-2-Max" in tokens, tokens
    models = complete(run_ctl, "models", "get", argument="positional@0", words=["gigachatctl", "models", "get", ""])
    assert "GigaChat-2-Pro" in models and "Embeddings" in models, models
    # --purpose's values are a fixed list, written into the completion script itself.
    zsh = run_ctl("--generate-completion-script", "zsh").stdout
    assert "___purpose=('general' 'assistant')" in zsh


# --------------------------------------------------------------------------------------------------
# The contrib clients exit as gigachatctl does


def run_contrib(testenv: TestEnv, argv: list[str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, env=merge_env(testenv.base(), None), capture_output=True, text=True, timeout=30,
                          cwd=testenv.root, stdin=subprocess.DEVNULL)
    testenv.outputs.extend([proc.stdout.encode(), proc.stderr.encode()])
    return proc


CLIENTS = {
    "gigachat.sh": [str(REPO_ROOT / "contrib" / "gigachat.sh")],
    "gigachat_client.py": [sys.executable, str(REPO_ROOT / "contrib" / "gigachat_client.py")],
}


@pytest.mark.parametrize("client", CLIENTS)
def test_contrib_clients_exit_like_gigachatctl(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Any, testenv: TestEnv, client: str
) -> None:
    for route in ("chat", "v2"):  # the contrib clients use chat; gigachatctl, chat.create
        fake_api.inject(route, "rate_limit", retry_after=3600, times=-1)
    d = daemon(env={"GIGACHATD_MAX_RETRY_AFTER": "1"})
    expected = run_ctl("chat", "быстрее").returncode
    assert expected == 5
    r = run_contrib(testenv, CLIENTS[client] + ["быстрее"])
    assert r.returncode == expected, r.stderr
    d.stop()
    fake_api.clear_faults()
    daemon(env={"GIGACHAT_CREDENTIALS": make_test_key()})  # a key the OAuth endpoint refuses
    assert run_ctl("chat", "кто я?").returncode == 4
    r = run_contrib(testenv, CLIENTS[client] + ["кто я?"])
    assert r.returncode == 4, r.stderr
    r = run_contrib(testenv, CLIENTS[client] + ["--no-such-option"])
    assert r.returncode == 64, r.stderr
