"""Chat: v1 (JSON, data-only SSE) and v2 (planned by v2.py; JSON, named SSE events) share one path of
checks: the request, the concurrency quota, faults, then the answer."""

from __future__ import annotations

import time
import uuid
from typing import Any, Optional

from . import v2 as fake_v2
from .bench import BenchStream, _parse_bench
from .faults import _STREAM_FAULTS, ENDLESS_LINE, Fault
from .handler import _dumps
from .sse import SSEWriter, _Endless
from .state import RecordedRequest
from .v2 import V2_CHAT_PATH


class ChatRoutes(SSEWriter, BenchStream):
    """``POST /api/v1/chat/completions`` and ``POST /api/v2/chat/completions``."""

    def _chat(self, rec: RecordedRequest, v2: bool = False) -> None:
        """A v1 chat, or with ``v2`` a v2 one (planned by v2.py): checks, quota, faults, answer."""
        fake, st, s = self.fake, self.fake.state, self.fake.settings
        body = self._require_json(rec)
        if body is None:
            return
        rec.stream = bool(body.get("stream"))
        if v2:
            problem = fake_v2.check_request(body, fake.known_model)
            if problem is not None:
                self._send_api_error(*problem)
                return
        model = body.get("model")
        bench_spec = None
        if isinstance(model, str) and model.startswith("bench:"):
            bench_spec = model[len("bench:"):]
        bench_spec = bench_spec or rec.header("X-Fake-Bench") or s.bench
        try:
            bench = None if v2 else _parse_bench(bench_spec)
        except ValueError as e:
            self._send_api_error(422, f"Invalid params: {e}")
            return
        if not isinstance(model, str) or not model:
            # The API requires a model (§5.1); the exact message is not recorded.
            self._send_api_error(422, "Invalid params: model is required")
            return
        if bench is None and not fake.known_model(model):
            self._send_api_error(404, "No such model")
            return
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            self._send_api_error(422, "Invalid params: messages must be a non-empty list of objects")
            return
        if not st._chat_begin(s.concurrency_limit):
            # The real API's answer to going over the concurrency quota (§11): 429, no body.
            rec.fault = "concurrency_limit"
            self._send_bytes(429, b"", "application/json; charset=utf-8")
            return
        start = time.monotonic()
        try:
            fault = st._pop_fault(V2_CHAT_PATH if v2 else "/chat/completions")
            if self._apply_fault(fault, rec):
                return
            if bench is not None:
                self._bench(rec, bench, body)
                return
            delay = float(fault.get("first_byte_delay", s.first_byte_delay)) if fault else s.first_byte_delay
            if delay:
                self._wait(delay)
            if fault is not None and fault.kind == "error_event" and not (v2 and rec.stream):
                # Only a v2 stream has an error event; anything else fails before the reply (§8.1).
                status = int(fault.get("status_code", 500))
                self._send_api_error(status, str(fault.get("message") or self.responses.get(status, ("Error",))[0]))
                return
            if v2:
                self._chat_v2(rec, body, fault)
                return
            plan = self._plan(body, fault)
            rec.reply = "".join(plan["chunks"])
            rec.usage = plan["usage"]
            if rec.stream:
                self._stream(rec, plan, fault)
            else:
                self._json_chat(rec, plan, fault)
        finally:
            st._chat_end(start)

    def _plan(self, body: dict[str, Any], fault: Optional[Fault]) -> dict[str, Any]:
        """What to answer: the resolved model, text pieces or a function call, usage."""
        s, fake = self.fake.settings, self.fake
        messages = body["messages"]
        model = body["model"].split(":", 1)[0] + ":" + s.model_version
        prompt_tokens = sum(fake_v2.tokens(m.get("content") if isinstance(m.get("content"), str) else "") for m in messages) + 1
        created = s.created_at if s.created_at is not None else int(time.time())
        plan: dict[str, Any] = {"model": model, "created": created, "function_call": None}

        functions = body.get("functions")
        fc = body.get("function_call")
        blacklist = fault is not None and fault.kind == "blacklist"
        # With "auto", a turn that brings a function's result gets a text answer, as from the real model.
        answered = fc == "auto" and isinstance(messages[-1], dict) and messages[-1].get("role") == "function"
        if isinstance(functions, list) and functions and (fc == "auto" or isinstance(fc, dict)) and not blacklist and not answered:
            name = fc.get("name") if isinstance(fc, dict) else functions[0].get("name")
            spec = next((f for f in functions if isinstance(f, dict) and f.get("name") == name), None)
            if spec is None:
                name, spec = functions[0].get("name"), functions[0]
            arguments = dict(fc.get("partial_arguments") or {}) if isinstance(fc, dict) else {}
            params = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
            props = params.get("properties") if isinstance(params.get("properties"), dict) else {}
            for prop in params.get("required") or list(props)[:1]:
                arguments.setdefault(prop, _example_value((props.get(prop) or {}).get("type")))
            plan["function_call"] = {"name": name, "arguments": arguments}
            plan["functions_state_id"] = str(uuid.uuid4())
            plan["finish_reason"] = "function_call"
            plan["chunks"] = [""]
            completion = 1 + len(_dumps(arguments)) // 4
        else:
            reply = fault.get("reply", fake_v2.BLACKLIST_TEXT if blacklist else None) if fault else None
            pieces = fault.get("reply_chunks") if fault else None
            if pieces is not None:
                text = "".join(pieces)
            else:
                last = messages[-1]
                if reply is None and s.reply is None and last.get("role") == "function":
                    reply = f"Function {last.get('name')} returned: {last.get('content')}"
                text = fake.reply_for(messages, reply)
                pieces = fake.reply_chunks(text)
            plan["chunks"] = list(pieces)
            plan["text"] = text
            plan["finish_reason"] = (fault.get("finish_reason") if fault else None) or ("blacklist" if blacklist else "stop")
            completion = max(1, fake_v2.tokens(text))
        plan["usage"] = {
            "prompt_tokens": prompt_tokens, "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion, "precached_prompt_tokens": 0,
        }
        return plan

    def _chat_v2(self, rec: RecordedRequest, body: dict[str, Any], fault: Optional[Fault]) -> None:
        """Answer a checked v2 chat: the JSON body (recorded), or named SSE events (recorded, and
        v2.py for what was not). Generated images are stored so GET /files/{id}/content finds them."""
        fake, s = self.fake, self.fake.settings
        created = s.created_at if s.created_at is not None else int(time.time())
        plan = fake_v2.plan(
            body, reply=s.reply, reply_prefix=s.reply_prefix, chunks=s.chunks, model_version=s.model_version,
            created_at=created, fault=fault,
        )
        for f in plan.files:
            data = fake_v2.fake_jpeg(f["id"], s.image_bytes)
            meta = {"id": f["id"], "object": "file", "bytes": len(data), "created_at": created,
                    "filename": f"{f['id']}.jpg", "purpose": "general", "access_policy": "private"}  # guess
            with fake.state.lock:
                fake.state.files[f["id"]] = {"meta": meta, "data": data, "mime": f["mime"]}
        response = fake_v2.response(plan)
        rec.v2_response = response
        rec.reply = plan.text
        rec.usage = plan.usage
        kind = fault.kind if fault else None
        evs = fake_v2.events(plan, fault_kind=kind, error_after=fault.get("chunks") if fault else None)
        rec.v2_events = [(e.name, e.data) for e in evs]
        if not rec.stream:
            # recorded: success bodies of the v2 endpoint say "application/json; charset=utf-8"
            self._send_reply_json(rec, _dumps(response), fault, "application/json; charset=utf-8",
                                  b'{"messages":[{"role":"assistant","content":[{"text":"')
            return
        flags, eol, prefix = self._sse_framing(fault)
        frames = [(e.frame(eol, space="nospace" not in flags), e.text) for e in evs]
        malformed = (b"event: " + fake_v2.EVENT_DELTA.encode() + eol + prefix
                     + b'{"messages":[{"role":"assistant","content":[{"text":"broken' + eol + eol)
        self._send_frames(rec, frames, b"", fault, flags, eol, prefix, malformed)

    def _json_chat(self, rec: RecordedRequest, plan: dict[str, Any], fault: Optional[Fault]) -> None:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(plan["chunks"])}
        if plan["function_call"] is not None:
            message["function_call"] = plan["function_call"]
            message["functions_state_id"] = plan["functions_state_id"]
        body = _dumps({
            "choices": [{"index": 0, "finish_reason": plan["finish_reason"], "message": message}],
            "created": plan["created"], "model": plan["model"], "object": "chat.completion", "usage": plan["usage"],
        })
        self._send_reply_json(rec, body, fault, "application/json",
                              b'{"choices":[{"index":0,"message":{"role":"assistant","content":"')

    def _send_reply_json(self, rec: RecordedRequest, body: bytes, fault: Optional[Fault], ctype: str, endless_head: bytes) -> None:
        """A non-stream chat answer, with a mid-body fault applied if there is one."""
        kind = fault.kind if fault else None
        if kind not in _STREAM_FAULTS:
            self._send_bytes(200, body, ctype)
            return
        if kind == "endless_data":
            # A JSON body whose content string never closes, sent chunked (no length to stop at).
            self._start_chunked(200, ctype)
            self._chunk(endless_head)
            self._endless(_Endless(b"x" * ENDLESS_LINE, int(float(fault.get("mib", 64)) * 1024 * 1024)))  # type: ignore[union-attr]
            self._end_chunks()
            return
        # Mid-body faults on a plain JSON answer: headers and half the body, then the fault.
        half = len(body) // 2
        if kind == "malformed":
            self._send_bytes(200, body[:half], ctype)
            return
        rec.status = 200
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers()
        self._end_headers()
        self._write(body[:half])
        if kind == "reset_after":
            self._wait(float(fault.get("pause", 0.2)))  # type: ignore[union-attr]
            self._reset()
        elif kind == "truncate":
            self._close_abruptly()
        elif kind == "stall_after":
            self._wait(float(fault.get("seconds", 5)))  # type: ignore[union-attr]
            self._write(body[half:])

    def _events(self, plan: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
        """The chunk objects of a v1 stream (§6.1) and the content each one carries."""
        s = self.fake.settings
        common = {"created": plan["created"], "model": plan["model"], "object": "chat.completion"}
        events: list[tuple[dict[str, Any], str]] = []
        if plan["function_call"] is not None:
            delta = {"content": "", "role": "assistant", "function_call": plan["function_call"],
                     "functions_state_id": plan["functions_state_id"]}
            events.append(({"choices": [{"delta": delta, "index": 0}], **common}, ""))
        else:
            for i, piece in enumerate(plan["chunks"]):
                delta = {"content": piece, "role": "assistant"} if i == 0 else {"content": piece}
                events.append(({"choices": [{"delta": delta, "index": 0}], **common}, piece))
        if s.usage_on_every_chunk:
            for obj, _ in events:
                obj["usage"] = plan["usage"]
        final = {"choices": [{"delta": {"content": ""}, "index": 0, "finish_reason": plan["finish_reason"]}],
                 **common, "usage": plan["usage"]}
        events.append((final, ""))
        return events

    def _stream(self, rec: RecordedRequest, plan: dict[str, Any], fault: Optional[Fault]) -> None:
        flags, eol, prefix = self._sse_framing(fault)
        frames = [(prefix + _dumps(obj) + eol + eol, content) for obj, content in self._events(plan)]
        malformed = prefix + b'{"choices":[{"delta":{"content":"broken' + eol + eol
        self._send_frames(rec, frames, prefix + b"[DONE]" + eol + eol, fault, flags, eol, prefix, malformed)


def _example_value(json_type: Any) -> Any:
    return {"string": "Москва", "integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(
        json_type if isinstance(json_type, str) else "string", "Москва"
    )
