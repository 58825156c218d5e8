"""The v2 ("primary") chat contract of the fake GigaChat API: what to answer, as data (no I/O).

chat.py serves ``POST /api/v2/chat/completions`` with what this module plans; tests use
``assemble`` and ``parse_named_sse`` to compute what a client should make of it.

Sources, best first:

* recorded: the official SDK's VCR cassettes (ai-forever/gigachat, tests/integration/cassettes/
  ``test_primary_chat_create_simple``, ``test_primary_chat_stream_simple``,
  ``test_primary_chat_function_tool_roundtrip``, ``test_primary_chat_builtin_tools``), real traffic
  of June 2026;
* SDK mock: hand-written payloads in the SDK's unit tests (tests/unit/gigachat/api/
  test_chat_completions.py, models/test_chat_completions.py): shapes the SDK authors expected;
* reference: /work/shared/gigachat-api.md §7, §8 (which cites the production client gigamux);
* guess: nothing recorded at all. Tests must not depend on the details of a guess.

Each shape below says which it is.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

V2_CHAT_PATH = "/api/v2/chat/completions"  # recorded: the v1 base's /api/v1 with /v1 replaced by /v2

EVENT_DELTA = "response.message.delta"  # recorded
EVENT_DONE = "response.message.done"  # recorded
EVENT_TOOL_IN_PROGRESS = "response.tool.in_progress"  # SDK mock (the SDK's migration guide names it)
EVENT_TOOL_COMPLETED = "response.tool.completed"  # SDK mock
EVENT_ERROR = "error"  # reference (gigamux); never recorded

# Built-in tools as the SDK lists them (models/chat_completions.py); four are recorded.
BUILTIN_TOOLS = ("web_search", "code_interpreter", "url_content_extraction", "image_generate", "model_3d_generate")

# Roles a v2 request may carry (reference §7). "function" is v1 only: a v2 request with it was built
# for the wrong contract, and the fake refuses it (the real API's answer to that is a guess).
REQUEST_ROLES = ("system", "user", "assistant", "tool")

# The canned refusal that comes with finish_reason "blacklist". The wording is a guess (the reference
# only says "a canned refusal").
BLACKLIST_TEXT = "Что-то в вашем вопросе меня смущает. Может, поговорим на другую тему?"

# A stop event (reference §8.1, from gigamux's stopevent.py): 423, or 403 with this phrase in the
# message. The rest of both messages is a guess.
STOP_EVENT_PHRASE = "temporarily unavailable due to technical reasons"
STOP_EVENT_403_MESSAGE = f"Model is {STOP_EVENT_PHRASE}"
STOP_EVENT_423_MESSAGE = f"Locked: model is {STOP_EVENT_PHRASE}"
PAYMENT_REQUIRED_MESSAGE = "Payment Required"  # reference §8.1

_JSON_SEPARATORS = (",", ":")


def dumps(obj: Any) -> bytes:
    """Compact one-line JSON with raw UTF-8, as the API streams it (recorded)."""
    return json.dumps(obj, ensure_ascii=False, separators=_JSON_SEPARATORS).encode("utf-8")


def tokens(text: str) -> int:
    # About 3-4 characters per token (reference §11); the exact figure does not matter to anyone.
    return max(1, math.ceil(len(text) / 4)) if text else 0


def split_text(text: str, n: int) -> list[str]:
    """``text`` in at most ``n`` non-empty pieces of nearly equal length (by characters)."""
    if not text:
        return [""]
    n = max(1, min(n, len(text)))
    size, extra = divmod(len(text), n)
    pieces, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def text_of(content: Any) -> str:
    """The text of a message's content: a string as is, a list of parts as its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def stable_uuid(*parts: Any) -> str:
    """A UUID fixed by ``parts``, shaped like the recorded time-ordered ids ("019e8373-dc9a-7883-...").

    The same request gets the same tool_state_id and file id whether it streams or not, so a
    streamed reply and a non-streamed one can be compared field for field.
    """
    digest = hashlib.sha256(dumps(list(parts))).hexdigest()
    return str(uuid.UUID(hex="019e" + digest[4:12] + "7" + digest[13:16] + "8" + digest[17:32]))


def fake_jpeg(file_id: str, size: int) -> bytes:
    """``size`` bytes that start and end like a JPEG (SOI/APP0 JFIF ... EOI), fixed by ``file_id``."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    tail = b"\xff\xd9"
    size = max(size, len(head) + len(tail))
    rng = random.Random(hashlib.sha256(file_id.encode()).digest())
    return head + rng.randbytes(size - len(head) - len(tail)) + tail


# --------------------------------------------------------------------------------------------------
# Validating a request


def check_request(body: Any, known_model: Any) -> Optional[tuple[int, str]]:
    """(status, message) of the error the API would answer, or None if the request is acceptable.

    Statuses follow the reference (§4.1 404 "No such model", §5.1 422 "Invalid params: ..."); the
    messages are guesses except "No such model" (recorded for v1).
    """
    if not isinstance(body, dict):
        return 400, "Your request contains invalid JSON syntax."
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return 422, "Invalid params: model is required"
    if not known_model(model):
        return 404, "No such model"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return 422, "Invalid params: messages must be a non-empty list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            return 422, f"Invalid params: messages[{i}] must be an object"
        if m.get("role") not in REQUEST_ROLES:
            return 422, f"Invalid params: messages[{i}].role must be one of {', '.join(REQUEST_ROLES)}"
        content = m.get("content")
        # recorded requests always send a list of parts; the SDK turns strings into [{"text"}]
        if not isinstance(content, list) or not all(isinstance(p, dict) and p for p in content):
            return 422, f"Invalid params: messages[{i}].content must be a list of content parts"
        if m["role"] == "system" and i != 0:
            return 422, "Invalid params: system message must be the first one"  # reference §5.1 (v1)
    # Every assistant function call is followed by a tool message with its result (reference §5.1,
    # §7; the recorded round trip does this). The status for breaking the rule is a guess.
    for i, m in enumerate(messages):
        calls = [p["function_call"].get("name") for p in m["content"] if isinstance(p.get("function_call"), dict)]
        if m["role"] != "assistant" or not calls:
            continue
        results = []
        for later in messages[i + 1:]:
            if later["role"] != "tool":
                break
            results += [p["function_result"].get("name") for p in later["content"] if isinstance(p.get("function_result"), dict)]
        missing = [c for c in calls if c not in results]
        if missing:
            return 422, f"Invalid params: function call {missing[0]} has no function_result after it"
    return None


# --------------------------------------------------------------------------------------------------
# Planning an answer


@dataclass
class V2Plan:
    """Everything the fake will say for one v2 chat request, streamed or not."""

    model: str  # resolved, with version suffix (recorded "GigaChat-3-Ultra:32.3.18.5")
    created_at: int  # Unix seconds (recorded)
    text_pieces: list[str] = field(default_factory=list)  # assistant text, one piece per delta event
    reasoning_pieces: list[str] = field(default_factory=list)  # role "reasoning" text, streamed first
    inline_data: Optional[dict[str, Any]] = None  # on the (last) text part: web search sources
    files: list[dict[str, Any]] = field(default_factory=list)  # {"id","mime","target"} generated files
    calls: list[dict[str, Any]] = field(default_factory=list)  # {"name","arguments"} client function calls
    tool: Optional[str] = None  # the built-in tool that ran
    tool_state_id: Optional[str] = None
    finish_reason: str = "stop"
    usage: dict[str, Any] = field(default_factory=dict)
    error_status: int = 500  # event: error payload (fault "error_event")
    error_message: str = "Internal Server Error"

    @property
    def text(self) -> str:
        return "".join(self.text_pieces)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_pieces)


def _tool_choice(body: dict[str, Any]) -> tuple[Optional[str], list[dict[str, Any]]]:
    """(built-in tool to run, client functions to call) for a turn that ends with the user speaking.

    ``tool_config`` as recorded: {"mode":"forced","tool_name":...} for a built-in tool,
    {"mode":"forced","function_name":...} for a client function, {"mode":"auto"}. What the real model
    picks in "auto" mode is up to it; the fake calls every client function given (several calls in
    one message: reference §7), or else runs the first built-in tool.
    """
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    config = body.get("tool_config") if isinstance(body.get("tool_config"), dict) else {}
    specs: list[dict[str, Any]] = []
    builtins: list[str] = []
    for t in tools:
        if not isinstance(t, dict):
            continue
        fns = t.get("functions")
        if isinstance(fns, dict) and isinstance(fns.get("specifications"), list):
            specs += [s for s in fns["specifications"] if isinstance(s, dict) and isinstance(s.get("name"), str)]
        builtins += [name for name in BUILTIN_TOOLS if name in t]
    mode = config.get("mode")
    if mode == "none":
        return None, []
    if mode == "forced":
        if isinstance(config.get("function_name"), str):
            return None, [s for s in specs if s["name"] == config["function_name"]][:1]
        if isinstance(config.get("tool_name"), str):
            return config["tool_name"], []
    if specs:
        return None, specs
    return (builtins[0] if builtins else None), []


def _example_value(json_type: Any) -> Any:
    return {"string": "A-1024", "integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(
        json_type if isinstance(json_type, str) else "string", "A-1024"
    )


def _arguments(spec: dict[str, Any]) -> dict[str, Any]:
    """Arguments for a call of ``spec``: an example value for each required property (an object,
    recorded: {"order_id": "A-1024"})."""
    params = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
    props = params.get("properties") if isinstance(params.get("properties"), dict) else {}
    required = params.get("required") if isinstance(params.get("required"), list) else list(props)[:1]
    return {p: _example_value((props.get(p) or {}).get("type")) for p in required if isinstance(p, str)}


def _wants_reasoning(body: dict[str, Any]) -> bool:
    # Reasoning models (reference §7): asked for with model_options.reasoning (SDK model), or a
    # model named "...Reasoning" (GigaChat-2-Reasoning, reference §9).
    options = body.get("model_options") if isinstance(body.get("model_options"), dict) else {}
    return isinstance(options.get("reasoning"), dict) or "reasoning" in str(body.get("model", "")).lower()


def plan(
    body: dict[str, Any], *, reply: Optional[str], reply_prefix: str, chunks: int, model_version: str,
    created_at: int, fault: Any = None,
) -> V2Plan:
    """The answer to a valid v2 request (see check_request). ``fault`` modifiers: ``reply``,
    ``reply_chunks``, ``arguments`` (the arguments of every function call, instead of example
    values), ``finish_reason``, ``reasoning_only`` (the reply runs out while reasoning:
    only the reasoning message, finish_reason "length"); kinds "blacklist" and "error_event"
    (``status_code``, ``message``) shape the answer too."""
    fget = (lambda k, d=None: fault.get(k, d)) if fault is not None else (lambda k, d=None: d)
    kind = getattr(fault, "kind", None)
    messages = body["messages"]
    p = V2Plan(model=body["model"].split(":", 1)[0] + ":" + model_version, created_at=created_at)
    request_key = {k: v for k, v in body.items() if k != "stream"}
    has_tools = bool(body.get("tools"))
    last = messages[-1]
    question = next((text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    reply = fget("reply", reply)

    if kind == "blacklist":
        text = BLACKLIST_TEXT
        p.finish_reason = "blacklist"
    elif last.get("role") == "tool":
        # The answer after a tool result (recorded round trip: a text part, and a tool_state_id).
        trailing = []
        for m in reversed(messages):
            if m.get("role") != "tool":
                break
            trailing.insert(0, m)
        results = [part["function_result"] for m in trailing for part in m["content"]
                   if isinstance(part.get("function_result"), dict)]
        text = reply if reply is not None else "; ".join(
            f"Function {r.get('name')} returned: {dumps(r.get('result')).decode()}" for r in results)
    else:
        tool, specs = _tool_choice(body)
        text = reply if reply is not None else reply_prefix + question
        if specs:
            # recorded: content [{"function_call":{"name","arguments":{...}}}], finish_reason
            # "function_call", tool_state_id on the message, no text part
            given = fget("arguments")
            p.calls = [{"name": s["name"], "arguments": dict(given) if isinstance(given, dict) else _arguments(s)} for s in specs]
            p.finish_reason = "function_call"
            text = ""
        elif tool == "web_search":
            # recorded: the answer cites "[sources=[2]]" and carries inline_data {"images": [],
            # "sources": {"1": {"url","title"}, ...}} on its text part. The sources are made up.
            text = text + " [sources=[1]]"
            p.inline_data = {"images": [], "sources": {
                "1": {"url": "https://example.org/search/1", "title": "Первый источник"},
                "2": {"url": "https://example.org/search/2", "title": "Второй источник"},
            }}
        elif tool == "image_generate":
            # recorded: a files part {"files":[{"id","mime":"image/jpeg","target":"image"}]} and then a
            # text part; the bytes come from GET /api/v1/files/{id}/content
            p.files = [{"id": stable_uuid("file", request_key), "mime": "image/jpeg", "target": "image"}]
            text = reply if reply is not None else f"Изображение по запросу «{question}» создано."
        p.tool = tool
    if has_tools:
        # recorded: every answer to a request with tools carries tool_state_id on its message
        p.tool_state_id = stable_uuid("tool_state", request_key)

    if _wants_reasoning(body) and not p.calls:
        p.reasoning_pieces = split_text(f"Пользователь спрашивает: {question}. Отвечу коротко.", chunks)
    pieces = fget("reply_chunks")
    p.text_pieces = list(pieces) if pieces is not None else (split_text(text, chunks) if text else [])
    if fget("reasoning_only"):
        # reference §7: "a turn that runs out of tokens while reasoning may hold only the reasoning message"
        p.text_pieces, p.files, p.inline_data = [], [], None
        p.reasoning_pieces = p.reasoning_pieces or split_text(f"Думаю над «{question}»", chunks)
        p.finish_reason = "length"
    p.finish_reason = fget("finish_reason") or p.finish_reason
    if kind == "error_event":
        p.error_status = int(fget("status_code", 500))
        p.error_message = str(fget("message", "Internal Server Error"))

    input_tokens = sum(tokens(text_of(m.get("content"))) for m in messages) + 1
    input_tokens += sum(tokens(dumps(part).decode()) for m in messages for part in m["content"] if "text" not in part)
    input_tokens += tokens(dumps(body.get("tools") or []).decode()) if has_tools else 0
    output_tokens = max(1, tokens(p.text) + tokens(p.reasoning) + sum(tokens(dumps(c).decode()) for c in p.calls))
    # recorded shape; cached_tokens stays 0 so a streamed and a non-streamed answer are equal
    p.usage = {"input_tokens": input_tokens, "input_tokens_details": {"prompt_tokens": input_tokens, "cached_tokens": 0},
               "output_tokens": output_tokens, "total_tokens": input_tokens + output_tokens}
    return p


# --------------------------------------------------------------------------------------------------
# The answer, non-stream and streamed


def _message(role: str, content: list[dict[str, Any]], tool_state_id: Optional[str]) -> dict[str, Any]:
    # recorded key order: role, tool_state_id (responses spell it without the s), content
    m: dict[str, Any] = {"role": role}
    if tool_state_id is not None:
        m["tool_state_id"] = tool_state_id
    m["content"] = content
    return m


def response(p: V2Plan) -> dict[str, Any]:
    """The non-stream body (recorded: model, created_at, messages, finish_reason, usage)."""
    messages = []
    if p.reasoning_pieces:
        # reference §7: the reasoning message comes first (its non-stream shape is a guess)
        messages.append(_message("reasoning", [{"text": p.reasoning}], None))
    content: list[dict[str, Any]] = []
    if p.files:
        content.append({"files": [dict(f) for f in p.files]})  # recorded: the files part before the text
    if p.text_pieces:
        part: dict[str, Any] = {"text": p.text}
        if p.inline_data is not None:
            part["inline_data"] = p.inline_data
        content.append(part)
    content += [{"function_call": dict(c)} for c in p.calls]
    if content or not messages:
        messages.append(_message("assistant", content, p.tool_state_id))
    return {"model": p.model, "created_at": p.created_at, "messages": messages,
            "finish_reason": p.finish_reason, "usage": p.usage}


@dataclass
class V2Event:
    """One named SSE event: its name, its data payload and what it carries for a reader."""

    name: str
    data: dict[str, Any]
    text: str = ""  # assistant text in this event
    reasoning_text: str = ""  # role "reasoning" text in this event

    def frame(self, eol: bytes = b"\n", space: bool = True) -> bytes:
        # recorded: "event: NAME\ndata: {json}\n\n", LF, one space after the colon, no [DONE]
        sep = b": " if space else b":"
        return b"event" + sep + self.name.encode() + eol + b"data" + sep + dumps(self.data) + eol + eol


def events(p: V2Plan, *, fault_kind: Optional[str] = None, error_after: Optional[int] = None) -> list[V2Event]:
    """The streamed form of ``p``. For fault "error_event", ``error_after`` events and then the error."""
    head = {"model": p.model, "created_at": p.created_at}
    out: list[V2Event] = []

    def delta(role: str, part: dict[str, Any], text: str = "", reasoning_text: str = "") -> V2Event:
        # recorded: {"model","created_at","messages":[{"role":"assistant","content":[{"text":...}]}]}.
        # tool_state_id on a streamed assistant message is a guess (the non-stream answer has it).
        state = p.tool_state_id if role == "assistant" else None
        return V2Event(EVENT_DELTA, {**head, "messages": [_message(role, [part], state)]}, text, reasoning_text)

    for piece in p.reasoning_pieces:
        out.append(delta("reasoning", {"text": piece}, reasoning_text=piece))  # reference §7; shape a guess
    if p.tool is not None:
        # SDK mock: tool events carry a content part {"tool_execution": {"name", "status"}};
        # "in_progress" with seconds_left is the reference's wording, the values are guesses.
        running = {"name": p.tool, "status": "in_progress", "seconds_left": 3}
        done = {"name": p.tool, "status": "success"}
        if p.tool == "image_generate":
            done["censored"] = False  # SDK mock
        for name, execution in ((EVENT_TOOL_IN_PROGRESS, running), (EVENT_TOOL_COMPLETED, done)):
            out.append(V2Event(name, {**head, "messages": [_message("assistant", [{"tool_execution": execution}], None)]}))
    if p.files:
        out.append(delta("assistant", {"files": [dict(f) for f in p.files]}))  # guess: its own delta, first
    for i, piece in enumerate(p.text_pieces):
        part: dict[str, Any] = {"text": piece}
        if p.inline_data is not None and i == len(p.text_pieces) - 1:
            part["inline_data"] = p.inline_data  # guess: the sources ride on the last text delta
        out.append(delta("assistant", part, text=piece))
    # recorded: the done event has finish_reason and usage, and (reference §7) the whole function
    # calls in messages[] with tool_state_id on that message when the turn ends in calls
    done_data: dict[str, Any] = {**head, "finish_reason": p.finish_reason, "usage": p.usage}
    if p.calls:
        done_data["messages"] = [_message("assistant", [{"function_call": dict(c)} for c in p.calls], p.tool_state_id)]
    out.append(V2Event(EVENT_DONE, done_data))
    if fault_kind == "error_event":
        k = len(out) - 1 if error_after is None else max(0, min(error_after, len(out) - 1))
        # reference §7 (gigamux): "event: error" with {"status_code","message"} after a 200
        out = out[:k] + [V2Event(EVENT_ERROR, {"status_code": p.error_status, "message": p.error_message})]
    return out


# --------------------------------------------------------------------------------------------------
# What a client makes of a stream (the assembly rules a client follows), for tests


def parse_named_sse(raw: bytes) -> list[tuple[str, str]]:
    """(event name, data) of every event in a raw SSE body; a last event without its blank line counts."""
    out: list[tuple[str, str]] = []
    name, data = "message", []
    for line in raw.split(b"\n") + [b""]:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            if data:
                out.append((name, "\n".join(data)))
            name, data = "message", []
            continue
        key, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if key == b"event":
            name = value.decode()
        elif key == b"data":
            data.append(value.decode())
    return out


def assemble(stream: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The v2 non-stream shape built from (event, payload) pairs as the spec says a client should:

    a reasoning message (its text joined into one {"text"} part) if any, then the assistant message:
    the text joined into one {"text"} part first (inline_data kept on it), then every function_call
    part of the done event, then files parts; the message's tool_state_id kept; model, created_at
    from the events, finish_reason and usage from the done event.
    """
    result: dict[str, Any] = {}
    text, reasoning = [], []
    inline: Optional[dict[str, Any]] = None
    calls: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    state: Optional[str] = None
    for name, data in stream:
        if name == EVENT_ERROR:
            continue
        for key in ("model", "created_at"):
            if key in data:
                result.setdefault(key, data[key])
        if name == EVENT_DONE:
            for key, value in data.items():
                if key not in ("messages", "model", "created_at"):
                    result[key] = value
        for m in data.get("messages") or []:
            if m.get("role") == "assistant" and (m.get("tool_state_id") or m.get("tools_state_id")):
                state = m.get("tool_state_id") or m.get("tools_state_id")
            for part in m.get("content") or []:
                if name in (EVENT_TOOL_IN_PROGRESS, EVENT_TOOL_COMPLETED) or "tool_execution" in part:
                    continue
                if isinstance(part.get("text"), str):
                    (reasoning if m.get("role") == "reasoning" else text).append(part["text"])
                    if m.get("role") != "reasoning" and "inline_data" in part:
                        inline = part["inline_data"]
                if "function_call" in part and name == EVENT_DONE:
                    calls.append({"function_call": part["function_call"]})
                if "files" in part:
                    files.append({"files": part["files"]})
    messages: list[dict[str, Any]] = []
    if reasoning:
        messages.append({"role": "reasoning", "content": [{"text": "".join(reasoning)}]})
    content: list[dict[str, Any]] = []
    if text:
        part = {"text": "".join(text)}
        if inline is not None:
            part["inline_data"] = inline
        content.append(part)
    content += calls + files
    if content or not messages:
        messages.append(_message("assistant", content, state))
    result["messages"] = messages
    return result


def same_parts(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two v2 results equal but for the order of content parts inside each message.

    The recorded image_generate answer puts its files part before the text; the spec's assembly
    puts text first. Compare with this where that order is the only expected difference.
    """
    def norm(r: dict[str, Any]) -> dict[str, Any]:
        r = json.loads(json.dumps(r))
        for m in r.get("messages") or []:
            m["content"] = sorted(m.get("content") or [], key=lambda part: json.dumps(part, sort_keys=True))
        return r
    return norm(a) == norm(b)


# --------------------------------------------------------------------------------------------------
# Other v1 endpoints the v2 contract uses


AI_CHECK_MODELS = ("GigaCheckDetection", "GigaCheckClassification")  # recorded model list, type "aicheck"


def ai_check(text: str) -> dict[str, Any]:
    """POST /ai/check. Recorded shape (SDK fixture ai_check.json): category "ai"|"human"|"mixed",
    characters, tokens, ai_intervals [[start, end], ...]. Which text counts as "ai" is made up:
    texts of 40 characters or more are "mixed", their first half generated."""
    if len(text) >= 40:
        return {"category": "mixed", "characters": len(text), "tokens": tokens(text), "ai_intervals": [[0, len(text) // 2]]}
    return {"category": "human", "characters": len(text), "tokens": tokens(text), "ai_intervals": []}


_OPERATION_ID = re.compile(r"^\s*operationId:\s*['\"]?([A-Za-z0-9_]+)", re.MULTILINE)


def convert_functions(openapi: str) -> Optional[dict[str, Any]]:
    """POST /functions/convert: an OpenAPI document (raw body) -> {"functions": [Function]} (shape of
    the SDK fixture convert_functions.json). One function per operation: JSON documents are read
    properly; YAML only by its operationId lines (the fake has no YAML parser). None: nothing usable
    (the API's answer to that is a guess: 422)."""
    functions: list[dict[str, Any]] = []
    try:
        doc = json.loads(openapi)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("paths"), dict):
        for path, ops in doc["paths"].items():
            for method, op in (ops or {}).items():
                if not isinstance(op, dict):
                    continue
                props, required = {}, []
                for prm in op.get("parameters") or []:
                    if isinstance(prm, dict) and isinstance(prm.get("name"), str):
                        schema = prm.get("schema") if isinstance(prm.get("schema"), dict) else {"type": "string"}
                        props[prm["name"]] = {**schema, **({"description": prm["description"]} if "description" in prm else {})}
                        if prm.get("required"):
                            required.append(prm["name"])
                functions.append({
                    "name": op.get("operationId") or re.sub(r"\W+", "_", f"{method}_{path}").strip("_"),
                    "description": op.get("summary") or op.get("description") or f"{method.upper()} {path}",
                    "parameters": {"type": "object", "properties": props, "required": required},
                })
    else:
        for name in _OPERATION_ID.findall(openapi):
            functions.append({"name": name, "description": name,
                              "parameters": {"type": "object", "properties": {}, "required": []}})
    return {"functions": functions} if functions else None
