"""The examples in contrib/ work as their comments say, against a real gigachatd and the fake API.

They are run the way a user runs them: from the shell, with the test's XDG_RUNTIME_DIR, so they find
the daemon's socket themselves.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import pytest

from fake_gigachat import FakeGigaChat
from harness import REPO_ROOT, DaemonFactory, TestEnv, merge_env

CONTRIB = REPO_ROOT / "contrib"
SHELL_CLIENT = CONTRIB / "gigachat.sh"
PYTHON_CLIENT = CONTRIB / "gigachat_client.py"


def run(testenv: TestEnv, argv: list[str], *, input: Optional[str] = None,
        env: Optional[dict[str, Optional[str]]] = None, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv, input=input, env=merge_env(testenv.base(), env), capture_output=True, text=True, timeout=timeout,
        cwd=testenv.root, stdin=None if input is not None else subprocess.DEVNULL,
    )
    testenv.outputs.extend([proc.stdout.encode(), proc.stderr.encode()])
    return proc


def popen(testenv: TestEnv, argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=testenv.base(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=testenv.root)


def assert_streams(p: subprocess.Popen[bytes], expected: str, testenv: TestEnv) -> None:
    """The first text shows up well before the last: the reply is printed as it arrives."""
    assert p.stdout is not None and p.stderr is not None
    first = p.stdout.read(1)
    first_at = time.monotonic()
    rest = p.stdout.read()
    done_at = time.monotonic()
    err = p.stderr.read()
    testenv.outputs.extend([first + rest, err])
    assert p.wait(10) == 0, err
    assert (first + rest).decode() == expected + "\n"
    assert done_at - first_at >= 0.6, "the text appeared all at once at the end: not streamed"


@pytest.fixture(scope="module")
def tools() -> None:
    missing = [t for t in ("socat", "jq") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"contrib/gigachat.sh needs {' and '.join(missing)}: run `make test-deps`", pytrace=False)


# --------------------------------------------------------------------------------------------------
# contrib/gigachat.sh


def test_shell_client_asks_and_prints_the_reply(tools: None, fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    daemon()
    tricky = 'Привет, "мир"! \\ $HOME `echo` 🙂'
    r = run(testenv, [str(SHELL_CLIENT), tricky])
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Echo: {tricky}\n"
    body = fake_api.state.chat_requests[-1].json
    assert body["messages"] == [{"role": "user", "content": tricky}] and body["stream"] is True


def test_shell_client_streams(tools: None, fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    fake_api.configure(chunks=4, chunk_interval=0.3)
    daemon()
    assert_streams(popen(testenv, [str(SHELL_CLIENT), "раз два три"]), "Echo: раз два три", testenv)


def test_shell_client_options_and_stdin(tools: None, fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    daemon()
    r = run(testenv, [str(SHELL_CLIENT), "-m", "GigaChat-2-Pro", "-s", "Будь краток", "-c", "sh"], input="строка 1\nстрока 2\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Echo: строка 1\nстрока 2\n"
    body = fake_api.state.chat_requests[-1].json
    assert body["model"] == "GigaChat-2-Pro"
    assert body["messages"] == [{"role": "system", "content": "Будь краток"}, {"role": "user", "content": "строка 1\nстрока 2"}]
    r = run(testenv, [str(SHELL_CLIENT), "-c", "sh", "дальше"])
    assert r.returncode == 0, r.stderr
    assert len(fake_api.state.chat_requests[-1].json["messages"]) == 4, "the conversation continued in the daemon"


def test_shell_client_errors(tools: None, fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    r = run(testenv, [str(SHELL_CLIENT), "привет"])
    assert r.returncode == 3 and "not running" in r.stderr, r
    daemon()
    r = run(testenv, [str(SHELL_CLIENT), "-m", "GigaChat-Nonexistent", "привет"])
    assert r.returncode == 1, r
    assert r.stdout == "" and "No such model" in r.stderr, r
    r = run(testenv, [str(SHELL_CLIENT), "-x"])
    assert r.returncode == 64 and "usage" in r.stderr, r


# --------------------------------------------------------------------------------------------------
# contrib/gigachat_client.py as a command


def test_python_client_command_streams_the_reply(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    fake_api.configure(chunks=4, chunk_interval=0.3)
    daemon()
    assert_streams(popen(testenv, [sys.executable, str(PYTHON_CLIENT), "Привет", "мир"]), "Echo: Привет мир", testenv)
    fake_api.configure(chunk_interval=0.0)
    r = run(testenv, [sys.executable, str(PYTHON_CLIENT), "-m", "GigaChat-2-Max", "-s", "кратко"], input="из stdin\n")
    assert r.returncode == 0 and r.stdout == "Echo: из stdin\n", r.stderr
    body = fake_api.state.chat_requests[-1].json
    assert body["model"] == "GigaChat-2-Max" and body["messages"][0] == {"role": "system", "content": "кратко"}


def test_python_client_command_errors(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    r = run(testenv, [sys.executable, str(PYTHON_CLIENT), "привет"])
    assert r.returncode == 3, r
    daemon()
    r = run(testenv, [sys.executable, str(PYTHON_CLIENT), "-m", "GigaChat-Nonexistent", "привет"])
    assert r.returncode == 1 and "No such model" in r.stderr and r.stdout == "", r


@pytest.mark.parametrize("how", ["sigint", "timeout"])
def test_python_client_command_cancels(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv, how: str) -> None:
    fake_api.configure(chunks=20, chunk_interval=0.3)
    d = daemon()
    argv = [sys.executable, str(PYTHON_CLIENT), "долгий ответ"] + (["--timeout", "1"] if how == "timeout" else [])
    p = popen(testenv, argv)
    assert p.stdout is not None and p.stderr is not None
    first = p.stdout.read(2)
    assert first
    if how == "sigint":
        p.send_signal(signal.SIGINT)
    assert p.wait(10) == 130
    err = p.stderr.read().decode()
    testenv.outputs.extend([first + p.stdout.read(), err.encode()])
    assert "cancelled" in err
    assert fake_api.wait_for(lambda s: any(x["route"] == "/chat/completions" for x in s.disconnects), 5), \
        "the upstream transfer was not aborted"
    assert d.running and d.chat("ещё").ok


# --------------------------------------------------------------------------------------------------
# contrib/gigachat_client.py as a library


def load_client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gigachat_client", PYTHON_CLIENT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_python_client_library(fake_api: FakeGigaChat, daemon: DaemonFactory, testenv: TestEnv) -> None:
    d = daemon()
    gc = load_client()
    fake_api.configure(chunks=3)

    async def main() -> dict[str, Any]:
        async with await gc.GigaChatClient.connect(str(d.socket_path)) as client:
            # Two streams on one connection at once; each gets only its own deltas.
            first, second = client.chat("один"), client.chat("два", model="GigaChat-2")

            async def collect(stream: Any) -> list[str]:
                return [piece async for piece in stream]

            pieces = await asyncio.gather(collect(first), collect(second))
            models = await client.call("models")
            tokens = await client.call("tokens.count", {"input": ["абвг"]})
            try:
                await client.call("models.get", {"id": "GigaChat-Nonexistent"})
                error = None
            except gc.GigaChatError as e:
                error = e
            return {"pieces": pieces, "first": first, "second": second, "models": models, "tokens": tokens, "error": error}

    out = asyncio.run(main())
    assert ["".join(p) for p in out["pieces"]] == ["Echo: один", "Echo: два"]
    assert all(len(p) > 1 for p in out["pieces"]), "deltas come piece by piece"
    assert out["first"].result["choices"][0]["message"]["content"] == "Echo: один"
    assert out["second"].result["model"].startswith("GigaChat-2:")
    assert out["first"].text == "Echo: один"
    assert len(out["models"]["data"]) > 10
    assert out["tokens"] == [{"object": "tokens", "tokens": 1, "characters": 4}]
    assert out["error"] is not None and out["error"].code == -32003 and out["error"].data["status"] == 404


def test_python_client_library_cancel(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    gc = load_client()
    fake_api.configure(chunks=20, chunk_interval=0.3)

    async def main() -> tuple[str, Any, str]:
        async with await gc.GigaChatClient.connect(str(d.socket_path)) as client:
            stream = client.chat("отмени меня")
            received = ""
            caught = None
            try:
                async for piece in stream:
                    received += piece
                    await stream.cancel()
            except gc.Cancelled as e:
                caught = e
            fake_api.configure(chunk_interval=0.0)
            after = client.chat("после отмены")
            text = "".join([p async for p in after])  # the connection is still usable
            return received, caught, text

    received, caught, text = asyncio.run(main())
    assert received and isinstance(caught, gc.Cancelled)
    assert text == "Echo: после отмены"
    assert fake_api.wait_for(lambda s: any(x["route"] == "/chat/completions" for x in s.disconnects), 5)


def test_python_client_function_call(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    gc = load_client()
    function = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}

    async def main() -> Any:
        async with await gc.GigaChatClient.connect(str(d.socket_path)) as client:
            stream = client.chat("погода?", functions=[function], function_call="auto")
            async for _ in stream:
                pass
            return stream

    stream = asyncio.run(main())
    assert stream.function_call == {"name": "get_weather", "arguments": {"city": "Москва"}}
    assert any("function_call" in delta for delta in stream.deltas)


def test_contrib_files_are_executable() -> None:
    for path in (SHELL_CLIENT, PYTHON_CLIENT):
        assert path.stat().st_mode & 0o111, f"{path} is not executable"
    check = subprocess.run(["bash", "-n", str(SHELL_CLIENT)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert Path(REPO_ROOT / "docs" / "SCRIPTING.md").is_file()
