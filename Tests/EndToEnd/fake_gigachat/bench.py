"""Bench mode: chats answered with N events of exactly S content bytes, each stamped with its send
time, for measuring a client's throughput and added latency.

A chat is a bench stream when its model is "bench:N:S[:P]", its X-Fake-Bench header is "N:S[:P]", or
``settings.bench`` is set.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from .handler import BaseHandler, _dumps
from .state import RecordedRequest


def _parse_bench(spec: Optional[str]) -> Optional[tuple[int, int, float]]:
    """"N:S[:P]" -> (chunks, bytes per chunk, pacing ms)."""
    if not spec:
        return None
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"bench spec {spec!r} is not N:S[:P]")
    n, s = int(parts[0]), int(parts[1])
    p = float(parts[2]) if len(parts) == 3 else 0.0
    if n < 0 or s < 0 or p < 0:
        raise ValueError(f"bench spec {spec!r} has a negative value")
    return n, s, p


class BenchStream(BaseHandler):
    """Answers a chat whose bench spec parsed (see ChatRoutes._chat)."""

    def _bench(self, rec: RecordedRequest, spec: tuple[int, int, float], body: dict[str, Any]) -> None:
        """A stream of N events of exactly S content bytes, each stamped with its send time.

        Content: when S >= 16, the first 16 bytes are the send time in microseconds since the epoch
        (decimal, zero-padded), then "." up to S bytes; smaller S is all dots. Every content piece
        is ASCII of fixed size, so a client can cut the concatenated text into S-byte records no matter
        how a relay regroups the deltas. Each event also carries "x_sent_ns" (time.time_ns()) for
        readers that see the raw chunks. P > 0 paces events every P ms; otherwise writes are batched
        up to 16 KiB, as a fast producer's TCP stream would be.
        """
        n, size, pace_ms = spec
        created = int(time.time())
        model = "bench"
        rec.stream = bool(body.get("stream"))
        usage = {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1, "precached_prompt_tokens": 0}

        def content() -> tuple[bytes, int]:
            ns = time.time_ns()
            if size >= 16:
                return (b"%016d" % (ns // 1000)) + b"." * (size - 16), ns
            return b"." * size, ns

        if not rec.stream:
            text = b"".join(content()[0] for _ in range(n)).decode()
            self._send_json(200, {
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                "created": created, "model": model, "object": "chat.completion", "usage": usage,
            })
            return
        head_first = b'data: {"choices":[{"delta":{"content":"'
        role_mid = b'","role":"assistant"},"index":0}],"created":%d,"model":"%s","object":"chat.completion","x_sent_ns":' % (created, model.encode())
        mid = b'"},"index":0}],"created":%d,"model":"%s","object":"chat.completion","x_sent_ns":' % (created, model.encode())
        self._start_chunked(200, "text/event-stream")
        pace = pace_ms / 1000.0
        buf = bytearray()
        for i in range(n):
            piece, ns = content()
            event = head_first + piece + (role_mid if i == 0 else mid) + b"%d}\n\n" % ns
            buf += b"%x\r\n%s\r\n" % (len(event), event)
            rec.events_sent += 1
            if pace:
                self._write(bytes(buf))
                buf.clear()
                self._wait(pace)
            elif len(buf) >= 16384:
                self._write(bytes(buf))
                buf.clear()
        final = b"data: " + _dumps({
            "choices": [{"delta": {"content": ""}, "index": 0, "finish_reason": "stop"}],
            "created": created, "model": model, "object": "chat.completion", "usage": usage,
        }) + b"\n\ndata: [DONE]\n\n"
        buf += b"%x\r\n%s\r\n0\r\n\r\n" % (len(final), final)
        self._write(bytes(buf))
