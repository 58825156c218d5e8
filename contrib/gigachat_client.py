#!/usr/bin/env python3
"""A small asyncio client for gigachatd, standard library only. Copy it into your project.

As a library::

    import asyncio
    from gigachat_client import GigaChatClient, GigaChatError

    async def main():
        async with await GigaChatClient.connect() as client:
            stream = client.chat("Привет! Расскажи анекдот")
            async for text in stream:                  # the reply, piece by piece
                print(text, end="", flush=True)
            print()
            print(stream.result["usage"])              # the final result: GigaChat's own response body
            print(await client.call("models"))         # any other method (docs/PROTOCOL.md)

    asyncio.run(main())

``connect()`` first makes sure the socket is your own daemon's (see ``check_socket_path``) and
raises ``UntrustedSocket`` otherwise, before anything is sent.

``stream.cancel()`` (from another task, a signal handler, a timeout) stops the request: the daemon
aborts the upstream transfer and the stream ends with ``Cancelled``. Several requests may run at once
on one client; each waits only for its own lines.

As a command: ``gigachat_client.py [-m MODEL] [-s SYSTEM] [-c CONVERSATION] [--timeout S] PROMPT...``
streams the reply to stdout; Ctrl-C (or --timeout) cancels it and exits 130. Its exit statuses are
gigachatctl's (``exit_status()``): 1 an error, 3 no daemon, 4 credentials, 5 rate limited, 64 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import stat
import struct
import sys
from typing import Any, AsyncIterator, Optional

# Embedding results and long conversations make long lines; asyncio's default limit is 64 KiB.
MAX_LINE_BYTES = 64 * 1024 * 1024
CANCELLED = -32800

# gigachatctl's exit statuses, by the daemon's error code (docs/PROTOCOL.md, docs/SCRIPTING.md).
EXIT_ERROR, EXIT_DAEMON, EXIT_AUTH, EXIT_RATE_LIMITED, EXIT_USAGE, EXIT_CANCELLED = 1, 3, 4, 5, 64, 130
_EXIT_STATUS = {
    -32001: EXIT_AUTH, -32006: EXIT_AUTH, -32002: EXIT_RATE_LIMITED, CANCELLED: EXIT_CANCELLED,
    -32007: EXIT_DAEMON, -32009: EXIT_DAEMON,
    -32600: EXIT_USAGE, -32601: EXIT_USAGE, -32602: EXIT_USAGE, -32700: EXIT_USAGE,
}


def exit_status(code: int) -> int:
    """The exit status gigachatctl gives for the daemon's error ``code`` (1 for any not listed)."""
    return _EXIT_STATUS.get(code, EXIT_ERROR)


class GigaChatError(Exception):
    """An error response from gigachatd: ``code`` (docs/PROTOCOL.md), ``message``, ``data``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message
        self.data = data


class Cancelled(GigaChatError):
    """The request was cancelled (by ``cancel()``, or because the client left)."""


def _error(error: dict[str, Any]) -> GigaChatError:
    code, message = error.get("code", 0), error.get("message", "")
    kind = Cancelled if code == CANCELLED else GigaChatError
    return kind(code, message, error.get("data"))


class UntrustedSocket(PermissionError):
    """The socket is not your own daemon's: someone else may be listening. Nothing was sent."""


def _trusted(uid: int) -> bool:
    # Root could read the prompts anyway, and a system-wide setup may create the directory as root.
    return uid in (os.geteuid(), 0)


def _refuse(path: str, why: str) -> UntrustedSocket:
    return UntrustedSocket(f"refusing to use {path}: {why}")


def check_socket_path(path: str) -> None:
    """Raises UntrustedSocket unless the socket's directory is a real directory that only you (or root)
    own and can write, and the socket is yours (or root's). With no XDG_RUNTIME_DIR the socket is in
    /tmp/gigachat-UID/, a name anyone can create first. A path that does not exist is left for connect()
    to report."""
    directory = os.path.dirname(path) or "."
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        info = None
    if info is not None:
        if not stat.S_ISDIR(info.st_mode):
            what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a directory"
            raise _refuse(path, f"its directory {directory} is {what} (owner uid {info.st_uid}), so it may lead to "
                                f"another user's socket. Remove it (rm {directory}) and restart gigachatd")
        if not _trusted(info.st_uid):
            raise _refuse(path, f"its directory {directory} belongs to uid {info.st_uid}, not to you (uid {os.geteuid()}) "
                                "or root, so another user may be listening there. Remove it (as root if need be) and "
                                "restart gigachatd, or set XDG_RUNTIME_DIR or --socket to a directory of your own")
        if info.st_mode & 0o022:
            raise _refuse(path, f"its directory {directory} (owner uid {info.st_uid}) is writable by others "
                                f"(mode {stat.S_IMODE(info.st_mode):o}), so anyone could have put the socket there. "
                                f"Fix it with: chmod 700 {directory}, then restart gigachatd")
    try:
        # stat, not lstat: inside a directory only you control, a symlink is yours; what counts is
        # whose socket it leads to.
        owner = os.stat(path).st_uid
    except FileNotFoundError:
        return
    if not _trusted(owner):
        raise _refuse(path, f"the socket belongs to uid {owner}, not to you (uid {os.geteuid()}) or root, so another "
                            "user's program is listening there. Remove it (as root if need be) and restart gigachatd")


def check_peer(sock: socket.socket, path: str) -> None:
    """Raises UntrustedSocket unless the process that accepted the connection runs as you or root
    (SO_PEERCRED, which no race on the path can fake)."""
    # struct ucred: pid_t pid; uid_t uid; gid_t gid.
    pid, uid, _gid = struct.unpack("iII", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("iII")))
    if not _trusted(uid):
        raise _refuse(path, f"the process listening there (pid {pid}) runs as uid {uid}, not as you (uid {os.geteuid()}) "
                            f"or root. Stop it, remove {path} and restart gigachatd")


def default_socket_path() -> str:
    """Where gigachatd listens: $GIGACHATD_SOCKET, $XDG_RUNTIME_DIR/gigachat/, /tmp/gigachat-UID/."""
    if os.environ.get("GIGACHATD_SOCKET"):
        return os.environ["GIGACHATD_SOCKET"]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and runtime.startswith("/"):
        return os.path.join(runtime, "gigachat", "gigachatd.sock")
    return f"/tmp/gigachat-{os.getuid()}/gigachatd.sock"


class ChatStream:
    """One chat request: iterate for the text deltas; then ``result`` holds the final response.

    ``deltas`` keeps every ``chat.delta`` params object (function-call deltas, finish_reason).
    """

    def __init__(self, client: "GigaChatClient", params: dict[str, Any]) -> None:
        self._client = client
        self._params = params
        self.id: Optional[int] = None
        self.result: Optional[dict[str, Any]] = None
        self.deltas: list[dict[str, Any]] = []
        self.text = ""
        # Requests ahead of this one while it waits for an upstream slot (None: it never waited).
        self.queued_ahead: Optional[int] = None
        self._cancel_requested = False

    def __aiter__(self) -> AsyncIterator[str]:
        return self._run()

    async def _run(self) -> AsyncIterator[str]:
        self.id, queue = await self._client._send("chat", self._params)
        try:
            while True:
                message = await queue.get()
                if message is None:
                    raise ConnectionError("gigachatd closed the connection")
                if message.get("method") == "request.queued":
                    # Waiting for an upstream slot behind message["params"]["ahead"] requests.
                    self.queued_ahead = message["params"].get("ahead")
                    continue
                if message.get("method") == "chat.delta":
                    delta = message["params"]
                    self.deltas.append(delta)
                    if delta.get("content"):
                        self.text += delta["content"]
                        yield delta["content"]
                    continue
                if "error" in message:
                    error = _error(message["error"])
                    if self._cancel_requested and not isinstance(error, Cancelled):
                        # We asked for it, whatever way the request then ended (the partial reply, if
                        # any, is in error.data["result"]).
                        error = Cancelled(error.code, error.message, error.data)
                    raise error
                self.result = message["result"]
                return
        finally:
            self._client._queues.pop(self.id, None)

    async def cancel(self) -> bool:
        """Asks the daemon to stop this request; the iteration then ends with ``Cancelled``."""
        if self.id is None:
            return False
        self._cancel_requested = True
        return await self._client.cancel(self.id)

    @property
    def function_call(self) -> Optional[dict[str, Any]]:
        """``{"name", "arguments"}`` when the model called a function (see --function in gigachatctl)."""
        if not self.result:
            return None
        return self.result["choices"][0]["message"].get("function_call")


class GigaChatClient:
    """A connection to gigachatd. Use ``await GigaChatClient.connect()``, then ``async with``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = itertools.count(1)
        # Request id -> the lines for it; None when the connection is gone.
        self._queues: dict[int, asyncio.Queue[Optional[dict[str, Any]]]] = {}
        self._reading = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, path: Optional[str] = None) -> "GigaChatClient":
        """Connects to your own gigachatd; UntrustedSocket if the socket is someone else's."""
        path = path or default_socket_path()
        check_socket_path(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, path)
            check_peer(sock, path)
            reader, writer = await asyncio.open_unix_connection(sock=sock, limit=MAX_LINE_BYTES)
        except BaseException:
            sock.close()
            raise
        return cls(reader, writer)

    async def __aenter__(self) -> "GigaChatClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Closing cancels whatever is still running on this connection, as the protocol says."""
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass
        self._reading.cancel()

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                message = json.loads(line)
                if "method" in message:  # a notification names its request in params.id
                    request_id = message.get("params", {}).get("id")
                else:
                    request_id = message.get("id")
                queue = self._queues.get(request_id)
                if queue is not None:
                    queue.put_nowait(message)
        except (OSError, ValueError):
            pass
        finally:
            for queue in self._queues.values():
                queue.put_nowait(None)

    async def _send(self, method: str, params: Optional[dict[str, Any]]) -> tuple[int, asyncio.Queue[Optional[dict[str, Any]]]]:
        request_id = next(self._ids)
        queue: asyncio.Queue[Optional[dict[str, Any]]] = asyncio.Queue()
        self._queues[request_id] = queue
        request = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        # ensure_ascii=False keeps Cyrillic readable on the wire; json never writes a raw newline.
        self._writer.write(json.dumps(request, ensure_ascii=False).encode() + b"\n")
        await self._writer.drain()
        return request_id, queue

    async def call(self, method: str, params: Optional[dict[str, Any]] = None) -> Any:
        """Any method (docs/PROTOCOL.md); returns its result or raises GigaChatError."""
        request_id, queue = await self._send(method, params)
        try:
            while True:
                message = await queue.get()
                if message is None:
                    raise ConnectionError("gigachatd closed the connection")
                if "method" in message:
                    continue  # deltas of a streamed chat sent through call(): only the result counts
                if "error" in message:
                    raise _error(message["error"])
                return message["result"]
        finally:
            self._queues.pop(request_id, None)

    def chat(self, prompt: str | list[dict[str, Any]], *, stream: bool = True, **params: Any) -> ChatStream:
        """A chat request: ``prompt`` is the user's text or a whole ``messages`` list; ``params`` are
        any other chat fields (model, temperature, functions, conversation, session_id, ...)."""
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        return ChatStream(self, {"messages": messages, "stream": stream, **params})

    async def cancel(self, request_id: int) -> bool:
        """Stops request ``request_id`` of this connection; True if it was still running."""
        result = await self.call("cancel", {"id": request_id})
        return bool(result.get("cancelled"))


async def _main(args: argparse.Namespace) -> int:
    prompt = " ".join(args.prompt) if args.prompt else sys.stdin.read().rstrip("\n")
    params: dict[str, Any] = {}
    if args.model:
        params["model"] = args.model
    if args.conversation:
        params["conversation"] = args.conversation
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [{"role": "user", "content": prompt}]
    try:
        client = await GigaChatClient.connect(args.socket)
    except UntrustedSocket as e:
        print(f"gigachat_client: {e}", file=sys.stderr)
        return EXIT_DAEMON
    except OSError as e:
        print(f"gigachat_client: cannot connect to gigachatd: {e}", file=sys.stderr)
        return EXIT_DAEMON
    async with client:
        stream = client.chat(messages, **params)
        loop = asyncio.get_running_loop()
        # Ctrl-C and --timeout cancel the request instead of killing the process mid-stream.
        loop.add_signal_handler(signal.SIGINT, lambda: loop.create_task(stream.cancel()))
        timer = loop.call_later(args.timeout, lambda: loop.create_task(stream.cancel())) if args.timeout else None
        try:
            async for text in stream:
                sys.stdout.write(text)
                sys.stdout.flush()
        except Cancelled:
            print("\n(cancelled)" if stream.text else "(cancelled)", file=sys.stderr)
            return EXIT_CANCELLED
        except GigaChatError as e:
            print(("\n" if stream.text else "") + f"gigachat_client: {e.message}", file=sys.stderr)
            return exit_status(e.code)
        except ConnectionError as e:
            print(("\n" if stream.text else "") + f"gigachat_client: {e}", file=sys.stderr)
            return EXIT_DAEMON
        finally:
            if timer:
                timer.cancel()
            loop.remove_signal_handler(signal.SIGINT)
        call = stream.function_call
        if call:
            print(f"function call: {call['name']} {json.dumps(call.get('arguments'), ensure_ascii=False)}")
        elif not stream.text.endswith("\n"):
            print()
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # bad usage exits 64, as gigachatctl does (argparse: 2)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def main() -> int:
    parser = _Parser(description="Ask GigaChat through gigachatd; the reply streams to stdout.")
    parser.add_argument("prompt", nargs="*", help="the question (default: standard input)")
    parser.add_argument("-m", "--model")
    parser.add_argument("-s", "--system", help="system prompt")
    parser.add_argument("-c", "--conversation", help="a conversation kept by gigachatd")
    parser.add_argument("--timeout", type=float, help="cancel the request after this many seconds")
    parser.add_argument("--socket", help="gigachatd's socket (default: as gigachatctl finds it)")
    return asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
