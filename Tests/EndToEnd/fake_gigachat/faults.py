"""Faults: what goes wrong, or differs, on the next request(s) to a path, and how a stream is framed.

A test queues a Fault with ``FakeGigaChat.inject`` (or ``POST /_control``); the next request on that
path pops it. Faults that look the same on every endpoint are answered in handler.py
(``_apply_fault``), the ones in the middle of a body in chat.py and sse.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .settings import API_PREFIX, OAUTH_PATH
from .v2 import V2_CHAT_PATH

# One-shot faults, applied to the next request(s) on a path. See Fault for the parameters of each.
FAULT_KINDS = frozenset({
    "none",          # no failure: only the modifiers (sse, reply, interval, ...) apply
    "status",        # HTTP `status` with the API's JSON body {"status","message"} (or `body`)
    "html",          # HTTP `status` (default 502) with the gateway's HTML page signed SynGX
    "unauthorized",  # 401 {"status":401,"message":"Token has expired"}, although the token is valid
    "rate_limit",    # 429 with Retry-After: `retry_after` (seconds, default 1), empty body
    "reset",         # TCP reset after reading the request, before any response byte
    "reset_after",   # stream `chunks` SSE events (default 1), then TCP reset
    "stall",         # no byte for `seconds`, before the response headers; then answer normally
    "stall_after",   # stream `chunks` events, then no byte for `seconds`, then the rest
    "malformed",     # after `chunks` events, a data line whose JSON is cut off; then the rest
    "truncate",      # stream `chunks` events (default: all but the finishing one), then end the
                     # HTTP body cleanly: no finish_reason, no [DONE]. `finish`: true keeps the
                     # finishing event; `abrupt`: true closes the TCP connection instead (no 0-chunk)
    "payment_required",  # 402 {"status":402,"message":"Payment Required"}: no tokens left for the model
    "stop_event",    # the model is switched off for now: `status` 423 (default) or 403, with a message
                     # containing "temporarily unavailable due to technical reasons" (reference §8.1)
    "blacklist",     # a normal 200 answer with the canned refusal and finish_reason "blacklist"
    "error_event",   # v2 stream: `chunks` events (default: all but response.message.done), then
                     # `event: error` {"status_code","message"} (params `status_code` 500, `message`) and
                     # the end of the body. A non-stream or v1 chat gets that status as an HTTP error.
    "endless_data",  # stream `chunks` events (default 1), then `data: ` lines of 64 KiB of "x" each
                     # and never the blank line that ends an event, until `mib` MiB (default 64)
                     # were written or the client leaves; then end the body cleanly. One SSE event
                     # that never ends: a client that buffers events unbounded runs out of memory.
                     # A non-stream chat gets a JSON body that never closes its string instead.
})
# The kinds that strike in the middle of a body, after `chunks` events.
_STREAM_FAULTS = frozenset({"reset_after", "stall_after", "malformed", "truncate", "endless_data"})

ENDLESS_LINE = 64 * 1024  # bytes of "x" per data line of an "endless_data" fault

# SSE framing variants (combine with "+", e.g. "crlf+nospace+split").
SSE_FLAGS = frozenset({
    "crlf",           # CRLF line ends instead of LF
    "nospace",        # "data:{...}" without the space
    "leading_blank",  # an empty line before the first event (the 2023 SDK fixture has one)
    "split",          # write the byte stream in pieces cut mid-line and mid-UTF-8-character,
                      # with a pause after each piece so the client sees separate reads
})

SPLIT_PAUSE = 0.01  # seconds between the pieces of a "split" stream


@dataclass
class Fault:
    """A fault or a set of modifiers for the next ``times`` requests on one path.

    ``params`` by kind: status/html: ``status``, ``message``, ``body``, ``content_type``,
    ``headers``; rate_limit: ``retry_after``; reset_after/stall_after/malformed/truncate: ``chunks``;
    reset_after: ``pause`` (seconds between the last byte and the reset, default 0.2);
    stall/stall_after: ``seconds``; truncate: ``finish``, ``abrupt``; endless_data: ``chunks``,
    ``mib`` (MiB of endless data lines, default 64). Modifiers valid with any kind:
    ``sse`` (framing flags), ``reply`` (assistant text), ``reply_chunks`` (exact list of content
    pieces), ``interval`` (seconds between events), ``first_byte_delay``, ``finish_reason``.
    ``times`` = -1 keeps the fault until it is cleared.
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    times: int = 1

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "times": self.times, **self.params}


def fault_key(path: str) -> str:
    """Normalise a path or alias to the key faults and routes use.

    "oauth" (or the OAuth path) -> "oauth"; "chat" -> "/chat/completions"; "*" -> any API path;
    "/api/v1/models" or "models" -> "/models"; "v2" (or "chat.create", or the path) -> the v2 chat path.
    """
    p = path.strip()
    if p in ("oauth", "/oauth", OAUTH_PATH):
        return "oauth"
    if p in ("v2", "chat.create", V2_CHAT_PATH):
        return V2_CHAT_PATH
    if p in ("chat", "*"):
        return "/chat/completions" if p == "chat" else "*"
    if p == API_PREFIX or p.startswith(API_PREFIX + "/"):
        p = p[len(API_PREFIX):]
    if not p.startswith("/"):
        p = "/" + p
    return p


def _sse_flags(spec: Any) -> frozenset[str]:
    """The flags of ``spec`` ("crlf+split", a list of names, or empty); an unknown one is an error."""
    if not spec:
        return frozenset()
    flags = frozenset(spec) if isinstance(spec, (list, tuple, set, frozenset)) else frozenset(
        f for f in str(spec).replace(",", "+").split("+") if f and f != "lf"
    )
    unknown = flags - SSE_FLAGS
    if unknown:
        raise ValueError(f"unknown SSE flags {sorted(unknown)}; known: {sorted(SSE_FLAGS)}")
    return flags
