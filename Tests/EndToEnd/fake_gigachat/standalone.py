"""The fake as a process of its own (``python3 -m fake_gigachat``, see __main__.py): it listens, writes
where it listens (GIGACHAT_*=... lines, a JSON ready file) and serves until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from typing import Optional

from .bench import _parse_bench
from .faults import _sse_flags
from .server import FakeGigaChat
from .settings import SCOPES


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python3 -m fake_gigachat", description="Fake GigaChat API on 127.0.0.1 (HTTPS with a test CA)."
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: pick a free port")
    ap.add_argument("--auth-port", type=int, default=None, help="serve OAuth on its own port (0: pick one)")
    ap.add_argument("--certdir", required=True, help="where the test PKI lives (made if missing)")
    ap.add_argument("--cert", default="good", choices=["good", "untrusted", "wronghost"])
    ap.add_argument("--key", default=None, help="authorization key to accept (default: a fresh random one)")
    ap.add_argument("--scope", default="GIGACHAT_API_PERS", choices=SCOPES)
    ap.add_argument("--user", default=None)
    ap.add_argument("--password", default=None)
    ap.add_argument("--token-lifetime", type=float, default=1800.0)
    ap.add_argument("--token-format", default="access_token", choices=["access_token", "tok_ms", "tok_s"])
    ap.add_argument("--reply", default=None)
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--chunk-interval", type=float, default=0.0)
    ap.add_argument("--sse", default="")
    ap.add_argument("--bench", default=None, metavar="N:S[:P]", help="every chat is a bench stream")
    ap.add_argument("--ready-file", default=None, help="write the addresses as JSON here once listening")
    ap.add_argument("--env-file", default=None, help="write GIGACHAT_*=... lines here once listening")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    fake = FakeGigaChat(
        certdir=args.certdir, key=args.key, cert=args.cert, host=args.host, port=args.port,
        separate_auth=args.auth_port is not None, auth_port=args.auth_port or 0,
        scope=args.scope, user=args.user, password=args.password, token_lifetime=args.token_lifetime,
        token_format=args.token_format, reply=args.reply, chunks=args.chunks,
        chunk_interval=args.chunk_interval, sse=args.sse, bench=args.bench, verbose=args.verbose,
    )
    _sse_flags(args.sse)
    _parse_bench(args.bench)
    fake.start()

    env = fake.env()
    env["FAKE_GIGACHAT_CONTROL_URL"] = fake.control_url
    lines = "".join(f"{k}={v}\n" for k, v in env.items())
    if args.env_file:
        _write_atomically(args.env_file, lines)
    if args.ready_file:
        info = {"base_url": fake.base_url, "auth_url": fake.auth_url, "control_url": fake.control_url,
                "ca_file": fake.ca_file, "port": fake.port, "auth_port": fake.auth_port,
                "credentials": fake.settings.key, "scope": fake.settings.scope, "pid": os.getpid()}
        _write_atomically(args.ready_file, json.dumps(info) + "\n")
    sys.stdout.write(lines)
    sys.stdout.flush()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    fake.stop()
    return 0


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
