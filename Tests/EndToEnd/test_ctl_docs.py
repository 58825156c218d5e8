"""Every shell example in README.md, docs/SCRIPTING.md, docs/PROTOCOL.md and docs/USAGE.md runs, as
written, against gigachatd and the fake API: a documented command that does not work is a bug like any
other. (docs/OPENAI.md's examples run in test_openai.py, docs/SYSTEMD.md's steps in test_user_manager.py.)

Each ```sh block is run by bash with -e and pipefail, in a directory that has what the examples name
(a git repository with a change, notes.txt, report.pdf, README.md), with gigachatctl first on PATH and
the test's XDG directories, so the examples find the daemon as a user's shell would. A block that needs
something a test cannot give (systemd, a build) is marked in the document, on the line before it, with
`<!-- docs-test: skip (why) -->`; those stay few.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from fake_gigachat import FakeGigaChat
from harness import REPO_ROOT, DaemonFactory, TestEnv, merge_env

DOCUMENTS = [
    REPO_ROOT / "README.md",
    REPO_ROOT / "docs" / "SCRIPTING.md",
    REPO_ROOT / "docs" / "PROTOCOL.md",
    REPO_ROOT / "docs" / "USAGE.md",
]
SKIP = re.compile(r"^<!--\s*docs-test:\s*skip\s*\((?P<why>[^)]+)\)\s*-->$")
MAX_SKIPPED = 3


@dataclass
class Example:
    document: Path
    line: int  # of the opening fence, 1-based
    code: str
    skipped: Optional[str]  # why, when marked

    @property
    def name(self) -> str:
        return f"{self.document.name}:{self.line}"


def examples() -> list[Example]:
    found = []
    for document in DOCUMENTS:
        lines = document.read_text(encoding="utf-8").splitlines()
        index = 0
        while index < len(lines):
            if lines[index].strip() == "```sh":
                start = index
                body = []
                index += 1
                while lines[index].strip() != "```":
                    body.append(lines[index])
                    index += 1
                previous = next((lines[i].strip() for i in range(start - 1, -1, -1) if lines[i].strip()), "")
                marked = SKIP.match(previous)
                found.append(Example(document, start + 1, "\n".join(body) + "\n", marked.group("why") if marked else None))
            index += 1
    return found


RUNNABLE = [e for e in examples() if e.skipped is None]


def workspace(testenv: TestEnv) -> Path:
    """A directory with what the examples refer to: a git repository with history and a change."""
    work = testenv.root / "work"
    work.mkdir()
    (work / "notes.txt").write_text("Release on Friday. Fix the login bug first.\n", encoding="utf-8")
    (work / "README.md").write_text("# demo\n\nA tiny project for the examples.\n", encoding="utf-8")
    (work / "report.pdf").write_bytes(b"%PDF-1.4\n% a small test file\n%%EOF\n")
    (work / "main.py").write_text("print('hello')\n", encoding="utf-8")
    git = ["git", "-c", "user.name=Docs Test", "-c", "user.email=docs@example.invalid", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "first commit"]):
        subprocess.run(git + args, cwd=work, check=True, capture_output=True)
    (work / "main.py").write_text("print('hello, world')\n", encoding="utf-8")  # so that `git diff` shows something
    return work


def run_example(code: str, testenv: TestEnv, gigachatctl_bin: Path, work: Path) -> subprocess.CompletedProcess[str]:
    env = merge_env(testenv.base(), {
        "PATH": f"{gigachatctl_bin.parent}:{testenv.base()['PATH']}",
        "question": "What is 2+2?",
        "prompt": "Привет",
    })
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=work, env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    testenv.outputs.extend([proc.stdout.encode(), proc.stderr.encode()])
    return proc


def test_the_documents_have_examples_and_few_are_skipped() -> None:
    found = examples()
    assert len(RUNNABLE) >= 8, [e.name for e in found]
    skipped = [e for e in found if e.skipped is not None]
    assert len(skipped) <= MAX_SKIPPED, f"too many examples are not run: {[(e.name, e.skipped) for e in skipped]}"
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        assert "<!-- docs-test" not in text.replace("<!-- docs-test: skip (", ""), \
            f"{document.name}: a docs-test comment the test does not understand"


@pytest.mark.parametrize("example", RUNNABLE, ids=lambda e: e.name)
def test_example_runs(example: Example, fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv,
                      gigachatctl_bin: Path) -> None:
    daemon()
    work = workspace(testenv)
    proc = run_example(example.code, testenv, gigachatctl_bin, work)
    assert proc.returncode == 0, f"{example.name} failed ({proc.returncode}):\n{example.code}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    assert "gigachatctl:" not in proc.stderr, f"{example.name} reported an error:\n{proc.stderr}"
    if "gigachatctl chat" in example.code:
        assert fake_api.state.v2_chat_requests or fake_api.state.chat_requests, f"{example.name} asked nothing"


def exit_status_example() -> Example:
    matching = [e for e in RUNNABLE if "case $? in" in e.code and "gigachatctl chat" in e.code]
    assert len(matching) == 1, [e.name for e in matching]
    return matching[0]


def test_the_exit_status_example_sees_the_status(testenv: TestEnv, gigachatctl_bin: Path) -> None:
    """With no daemon the example must take its status-3 branch: `$?` is gigachatctl's status, not `!`'s."""
    work = workspace(testenv)
    proc = run_example(exit_status_example().code, testenv, gigachatctl_bin, work)
    assert "start gigachatd: systemctl --user start gigachatd.socket" in proc.stderr, proc.stderr
    assert proc.stdout == "", proc.stdout


def test_the_exit_status_example_prints_the_answer(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv,
                                                  gigachatctl_bin: Path) -> None:
    daemon()
    proc = run_example(exit_status_example().code, testenv, gigachatctl_bin, workspace(testenv))
    assert proc.returncode == 0 and proc.stdout == "Echo: What is 2+2?\n", proc


def test_the_exit_status_example_sees_a_rate_limit(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv,
                                                  gigachatctl_bin: Path) -> None:
    for route in ("chat", "v2"):
        fake_api.inject(route, "rate_limit", retry_after=3600, times=-1)
    daemon(env={"GIGACHATD_MAX_RETRY_AFTER": "1"})
    proc = run_example(exit_status_example().code, testenv, gigachatctl_bin, workspace(testenv))
    assert "rate limited; try again in a minute" in proc.stderr, proc.stderr
