"""Writing an SSE body, v1 data events or v2 named events, with its framing variants (SSE_FLAGS) and
the faults that strike mid-stream; and parse_sse, the reference reader the self-tests use."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .faults import _STREAM_FAULTS, ENDLESS_LINE, SPLIT_PAUSE, Fault, _sse_flags
from .handler import BaseHandler, _Abort
from .state import RecordedRequest


def parse_sse(raw: bytes) -> list[str]:
    """Reference SSE parser used by the self-tests: the ``data`` values of a v1 stream, in order.

    Lines split on LF with an optional CR dropped; field and value split at the first colon; one
    optional space stripped (reference §6.2).
    """
    values = []
    for line in raw.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            continue
        name, _, value = line.partition(b":")
        if name != b"data":
            continue
        if value.startswith(b" "):
            value = value[1:]
        values.append(value.decode("utf-8"))
    return values


def _awkward_cuts(event: bytes) -> list[int]:
    """Cut positions inside one SSE event that break naive parsers (see SSE_FLAGS "split")."""
    cuts = {3, len(event) // 2, len(event) - 1}  # inside "data", mid-JSON, between the two line ends
    leads = [i for i, b in enumerate(event) if b >= 0xC0]  # first bytes of multi-byte characters
    if leads:
        cuts.add(leads[0] + 1)  # between the first byte of a character and its continuation
        cuts.add(leads[-1] + 1)
        if len(leads) > 2:
            cuts.add(leads[len(leads) // 2] + 2 if event[leads[len(leads) // 2]] >= 0xE0 else leads[len(leads) // 2] + 1)
    return sorted(c for c in cuts if 0 < c < len(event))


# A stream is planned as a list of these operations before a byte goes out (SSEWriter._send_frames).


@dataclass
class _Data:
    data: bytes


@dataclass
class _Wait:
    seconds: float


@dataclass
class _Reset:
    pass


@dataclass
class _End:
    abrupt: bool = False  # True: close TCP without the terminating zero-length chunk


@dataclass
class _Endless:
    line: bytes  # one data line, written over and over
    total: int  # stop after this many bytes


class SSEWriter(BaseHandler):
    """Writes a chunked text/event-stream body from frames, with framing flags and mid-stream faults."""

    def _sse_framing(self, fault: Optional[Fault]) -> tuple[frozenset[str], bytes, bytes]:
        """(flags, line end, data prefix) of a stream: the fault's ``sse`` modifier, else settings.sse."""
        flags = _sse_flags(fault.get("sse") if fault and "sse" in fault.params else self.fake.settings.sse)
        return flags, (b"\r\n" if "crlf" in flags else b"\n"), (b"data:" if "nospace" in flags else b"data: ")

    def _send_frames(
        self, rec: RecordedRequest, events: list[tuple[bytes, str]], terminator: bytes, fault: Optional[Fault],
        flags: frozenset[str], eol: bytes, prefix: bytes, malformed: bytes,
    ) -> None:
        """Write an SSE body: each (frame bytes, content it carries), then ``terminator``, with any
        mid-stream fault applied after ``chunks`` frames (see FAULT_KINDS)."""
        s = self.fake.settings
        interval = float(fault.get("interval", s.chunk_interval)) if fault else s.chunk_interval
        kind = fault.kind if fault and fault.kind in _STREAM_FAULTS else None
        default_k = len(events) - 1 if kind == "truncate" else 1
        k = int(fault.get("chunks", default_k)) if kind else -1
        if kind == "truncate" and fault and fault.get("finish"):
            k = len(events)
        k = min(k, len(events))

        # A list of operations first, so that the "split" variant can re-cut the bytes freely.
        ops: list[Any] = []
        ends: list[tuple[int, str]] = []  # (end offset in the stream, content) per event
        offset = 0

        def data(payload: bytes, content: Optional[str] = None) -> None:
            nonlocal offset
            ops.append(_Data(payload))
            offset += len(payload)
            if content is not None:
                ends.append((offset, content))

        if "leading_blank" in flags:
            data(eol)
        for i, (frame, content) in enumerate(events):
            if i == k and kind is not None:
                if self._stream_fault_ops(kind, fault, ops, data, prefix, eol, malformed):  # type: ignore[arg-type]
                    break
            data(frame, content)
            if interval and i < len(events) - 1:
                ops.append(_Wait(interval))
        else:
            if kind is not None and k >= len(events):
                if not self._stream_fault_ops(kind, fault, ops, data, prefix, eol, malformed):  # type: ignore[arg-type]
                    data(terminator)
                    ops.append(_End())
            else:
                data(terminator)
                ops.append(_End())
        if "split" in flags:
            ops = self._split(ops)

        self._event_ends = collections.deque(ends)
        self._stream_written = 0
        self._start_chunked(200, "text/event-stream")
        for op in ops:
            if isinstance(op, _Data):
                if "split" in flags:
                    rec.pieces.append(len(op.data))
                self._chunk(op.data)
            elif isinstance(op, _Wait):
                self._wait(op.seconds)
            elif isinstance(op, _Reset):
                self._reset()
            elif isinstance(op, _Endless):
                self._endless(op)
            elif isinstance(op, _End):
                if op.abrupt:
                    self._close_abruptly()
                self._end_chunks()

    @staticmethod
    def _stream_fault_ops(kind: str, fault: Fault, ops: list[Any], data: Callable[..., None], prefix: bytes, eol: bytes,
                          malformed: bytes) -> bool:
        """Append the operations of a mid-stream fault; True if the stream ends there."""
        if kind == "reset_after":
            # A pause first, so the client has read what was sent: a RST that arrives together with
            # the data makes the kernel drop the unread bytes, and the test would see no "partial".
            ops.append(_Wait(float(fault.get("pause", 0.2))))
            ops.append(_Reset())
            return True
        if kind == "truncate":
            ops.append(_End(abrupt=bool(fault.get("abrupt"))))
            return True
        if kind == "stall_after":
            ops.append(_Wait(float(fault.get("seconds", 5))))
            return False
        if kind == "malformed":
            data(malformed)
            return False
        if kind == "endless_data":
            ops.append(_Endless(prefix + b"x" * ENDLESS_LINE + eol, int(float(fault.get("mib", 64)) * 1024 * 1024)))
            ops.append(_End())
            return True
        return False

    def _endless(self, op: "_Endless") -> None:
        """Write ``op.line`` again and again (no event ever ends) until ``op.total`` bytes went out.

        The line is one object reused, so the fake itself stays small however much it sends; a client
        that goes away ends it through _ClientGone like any other write.
        """
        rec = self.rec
        while (rec.endless_bytes if rec else 0) < op.total:
            if self.fake._stopping.is_set():
                raise _Abort()
            self._chunk(op.line)
            if rec is not None:
                rec.endless_bytes += len(op.line)

    @staticmethod
    def _split(ops: list[Any]) -> list[Any]:
        """Re-cut runs of data at awkward places, with a pause between pieces."""
        out: list[Any] = []
        run = b""
        cuts: list[int] = []
        for op in ops + [None]:
            if isinstance(op, _Data):
                cuts.extend(len(run) + c for c in _awkward_cuts(op.data))
                run += op.data
                continue
            if run:
                prev = 0
                for cut in sorted(set(cuts)) + [len(run)]:
                    if cut > prev:
                        out.append(_Data(run[prev:cut]))
                        out.append(_Wait(SPLIT_PAUSE))
                        prev = cut
                run, cuts = b"", []
            if op is not None:
                out.append(op)
        return out
