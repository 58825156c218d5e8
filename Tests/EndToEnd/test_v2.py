"""The v2 ("primary") chat contract through gigachatd: every behaviour of the v2 spec, end to end.

What a script sees on the socket for ``chat.create`` (the v2 body passed through), its ``chat.event``
notifications and final result, the new error codes -32013 (402: no tokens left) and -32014 (a stop
event: 423, or 403 "temporarily unavailable due to technical reasons"), ``files.content``,
``ai.check``, ``functions.convert``, conversations shared by ``chat`` and ``chat.create`` with one
X-Session-ID each, and the new default base URL. The fake's v2 shapes are those of the SDK's recorded
cassettes where there are recordings (fake_gigachat/v2.py says which are guesses).
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any, Optional

import pytest

from fake_gigachat import V2_CHAT_PATH, FakeGigaChat
from fake_gigachat import v2 as fake_v2
from harness import ChatOutcome, DaemonFactory, RpcConnection

CREATED = 1780321864  # fixed created_at: a streamed and a non-streamed answer compare field for field

ORDER_FN = {
    "name": "get_order_status", "description": "Get delivery status for an order.",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string", "description": "Order identifier."}},
                   "required": ["order_id"]},
    "return_parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "status": {"type": "string"},
                                                           "eta": {"type": "string"}}, "required": ["order_id", "status", "eta"]},
}
WEATHER_FN = {
    "name": "get_weather", "description": "Погода в городе.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city", "days"]},
}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


def forced(tool: str) -> dict[str, Any]:
    return {"tools": [{tool: {"type": "actual_info_web_search"} if tool == "web_search" else {}}],
            "tool_config": {"mode": "forced", "tool_name": tool}}


BODIES = {
    "plain": {"messages": [user("Привет, мир")]},
    "reasoning": {"model": "GigaChat-2-Reasoning", "messages": [user("Сколько будет 2+2?")],
                  "model_options": {"reasoning": {"effort": "high"}}},
    "function_calls": {"messages": [user("Где заказ A-1024 и какая погода?")],
                       "tools": [{"functions": {"specifications": [ORDER_FN, WEATHER_FN]}}], "tool_config": {"mode": "auto"}},
    "web_search": {"messages": [user("Что нового в Python?")], **forced("web_search")},
    "code_interpreter": {"messages": [user("Сумма первых 20 простых чисел")], "tools": [{"code_interpreter": {}}],
                         "tool_config": {"mode": "auto"}},
    "url_content_extraction": {"messages": [user("Прочитай https://docs.python.org/3/")], **forced("url_content_extraction")},
}


def create(conn: RpcConnection, params: dict[str, Any], timeout: Optional[float] = None) -> ChatOutcome:
    return conn.collect(conn.request("chat.create", params), timeout)


def events(out: ChatOutcome) -> list[dict[str, Any]]:
    """The params of every chat.event notification, in order."""
    return [n["params"] for n in out.notifications if n.get("method") == "chat.event"]


def assistant_text(result: dict[str, Any]) -> str:
    return "".join(p.get("text", "") for m in result.get("messages", []) if m.get("role") == "assistant"
                   for p in m.get("content") or [])


def parts(result: dict[str, Any], key: str) -> list[Any]:
    return [p[key] for m in result.get("messages", []) for p in m.get("content") or [] if key in p]


def pick(obj: Any, *keys: str) -> Any:
    """Only ``keys`` of a result object (the spec names these; others may come along)."""
    return {k: obj[k] for k in keys if k in obj} if isinstance(obj, dict) else obj


def turns(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, text) of each message, whichever contract it is written in."""
    return [(m["role"], fake_v2.text_of(m.get("content"))) for m in messages]


# --------------------------------------------------------------------------------------------------
# chat.create: passing through, answers, streams


def test_create_nonstream_result_is_the_upstream_answer_at_the_v2_url(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        out = create(conn, {"messages": [user("Привет")]})
        assert conn.expect_silence(0.2) == []
    assert out.ok, out.final
    assert out.notifications == []
    (rec,) = fake_api.state.v2_chat_requests
    assert rec.path == V2_CHAT_PATH, "the v2 URL is the base's /api/v1 with /v1 replaced by /v2/chat/completions"
    assert fake_api.state.chat_requests == [], "chat.create must not use the v1 endpoint"
    assert rec.json["model"] == "GigaChat" and rec.json.get("stream") in (None, False)
    assert out.result == rec.v2_response, "the non-stream result is the API's answer, unchanged"
    assert assistant_text(out.result) == "Echo: Привет"


def test_create_default_model_comes_from_gigachat_model(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(model="GigaChat-2-Max")
    with d.connect() as conn:
        assert create(conn, {"messages": [user("a")]}).ok
        assert create(conn, {"messages": [user("b")], "model": "GigaChat-2-Pro"}).ok
    assert [r.json["model"] for r in fake_api.state.v2_chat_requests] == ["GigaChat-2-Max", "GigaChat-2-Pro"]


def test_create_params_pass_through_and_the_daemons_own_are_consumed(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    body = {
        "model": "GigaChat-2-Max",
        "messages": [{"role": "system", "content": [{"text": "Будь краток."}]}, user('Как дела? "кавычки"\n🙂')],
        "model_options": {"temperature": 0.3, "top_p": 0.9, "max_tokens": 77, "repetition_penalty": 1.1,
                          "response_format": {"type": "regex", "regex": "[A-Z]{3}-\\d{4}"}},
        "filter_config": {"request_content": {"neuro": True, "blacklist": False}},
        "disable_filter": False, "storage": {"limit": 5}, "user_info": {"timezone": "Europe/Moscow"},
        "ranker_options": {"enabled": True, "top_n": 3}, "flags": ["flag_a"], "x_future_field": {"kept": [1, 2]},
        "tools": [{"functions": {"specifications": [ORDER_FN]}}], "tool_config": {"mode": "none"},
    }
    d = daemon()
    with d.connect() as conn:
        out = create(conn, {**body, "session_id": "my-session-1", "deadline_ms": 20000})
    assert out.ok, out.final
    rec = fake_api.state.v2_chat_requests[-1]
    sent = {k: v for k, v in rec.json.items() if k != "stream"}
    assert sent == body, "the v2 body reaches the API unchanged, without session_id/deadline_ms"
    assert rec.session_id == "my-session-1"


def test_create_turns_a_plain_string_content_into_a_text_part(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        out = create(conn, {"messages": [{"role": "user", "content": "просто строка"}]})
    assert out.ok, out.final
    assert fake_api.state.v2_chat_requests[-1].json["messages"] == [user("просто строка")]


@pytest.mark.parametrize("messages", [
    None, [], "hi", [1], [{"content": [{"text": "no role"}]}], [{"role": 5, "content": [{"text": "x"}]}],
    [{"role": "user", "content": 5}], [{"role": "user", "content": {"text": "an object, not a list"}}],
], ids=["missing", "empty", "string", "not-object", "no-role", "role-number", "content-number", "content-object"])
def test_create_validates_messages(fake_api: FakeGigaChat, daemon: DaemonFactory, messages: Any) -> None:
    d = daemon()
    params: dict[str, Any] = {} if messages is None else {"messages": messages}
    with d.connect() as conn:
        out = create(conn, params)
        assert out.error["code"] == -32602, out.final
        assert "messages" in out.error["message"]
        assert create(conn, {"messages": [user("после ошибки")]}).ok, "the connection stays usable"
    assert len(fake_api.state.v2_chat_requests) == 1, "nothing invalid was sent upstream"


def test_stream_relays_every_event_unchanged(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.configure(chunks=4)
    d = daemon()
    with d.connect() as conn:
        rid = conn.request("chat.create", {"messages": [user("Посчитай до трёх")], "stream": True}, id=7)
        out = conn.collect(rid)
    assert out.ok, out.final
    rec = fake_api.state.v2_chat_requests[-1]
    assert rec.json["stream"] is True
    evs = events(out)
    assert [n["method"] for n in out.notifications] == ["chat.event"] * len(rec.v2_events)
    for n in out.notifications:
        assert n["jsonrpc"] == "2.0" and "id" not in n and n["params"]["id"] == 7
    assert [(e["event"], e["data"]) for e in evs] == rec.sent_events, "event names and payloads unchanged"
    for e in evs:
        if e["event"] == "response.message.delta":
            assert e["text"] == e["data"]["messages"][0]["content"][0]["text"]
            assert "reasoning_text" not in e
        else:
            assert "text" not in e and "reasoning_text" not in e
    assert "".join(e.get("text", "") for e in evs) == "Echo: Посчитай до трёх"
    result = out.result
    assert {"model", "created_at", "messages", "finish_reason", "usage"} <= set(result)
    assert result["finish_reason"] == "stop" and result["usage"] == rec.usage


def test_reasoning_text_is_never_mixed_into_text(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.configure(chunks=3)
    d = daemon()
    with d.connect() as conn:
        out = create(conn, {**BODIES["reasoning"], "stream": True})
    assert out.ok, out.final
    evs = events(out)
    reasoning = [e for e in evs if "reasoning_text" in e]
    texts = [e for e in evs if "text" in e]
    assert reasoning and texts and not [e for e in evs if "text" in e and "reasoning_text" in e]
    rec = fake_api.state.v2_chat_requests[-1]
    (expected_reasoning, expected_answer) = [fake_v2.text_of(m["content"]) for m in rec.v2_response["messages"]]
    assert "".join(e["reasoning_text"] for e in reasoning) == expected_reasoning
    assert "".join(e["text"] for e in texts) == expected_answer
    messages = out.result["messages"]
    assert [m["role"] for m in messages] == ["reasoning", "assistant"]
    assert messages[0]["content"] == [{"text": expected_reasoning}]
    assert messages[1]["content"] == [{"text": expected_answer}]


@pytest.mark.parametrize("name", list(BODIES))
def test_stream_result_equals_the_nonstream_result(fake_api: FakeGigaChat, daemon: DaemonFactory, name: str) -> None:
    fake_api.configure(created_at=CREATED, chunks=3)
    d = daemon()
    with d.connect() as conn:
        plain = create(conn, BODIES[name])
        streamed = create(conn, {**BODIES[name], "stream": True})
    assert plain.ok and streamed.ok, (plain.final, streamed.final)
    first, second = fake_api.state.v2_chat_requests
    assert plain.result == first.v2_response
    assert streamed.result == plain.result, "a streamed reply adds up to the non-stream answer"
    assert streamed.result == fake_v2.assemble(second.sent_events)


def test_several_function_calls_reach_the_client(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        plain = create(conn, BODIES["function_calls"])
        streamed = create(conn, {**BODIES["function_calls"], "stream": True})
    expected = [{"name": "get_order_status", "arguments": {"order_id": "A-1024"}},
                {"name": "get_weather", "arguments": {"city": "A-1024", "days": 1}}]
    for out in (plain, streamed):
        assert out.ok, out.final
        assert out.result["finish_reason"] == "function_call"
        assert parts(out.result, "function_call") == expected
        assert out.result["messages"][-1]["tool_state_id"]
    (done,) = [e for e in events(streamed) if e["event"] == "response.message.done"]
    assert [p["function_call"] for p in done["data"]["messages"][0]["content"]] == expected
    assert "text" not in done


def test_tool_round_trip_is_sent_upstream_as_recorded(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    tools = [{"functions": {"specifications": [ORDER_FN]}}]
    ask = user("Check order A-1024 and answer naturally.")
    d = daemon()
    with d.connect() as conn:
        first = create(conn, {"messages": [ask], "tools": tools,
                              "tool_config": {"mode": "forced", "function_name": "get_order_status"}, "stream": True})
        assert first.ok, first.final
        call = first.result["messages"][-1]
        state = call["tool_state_id"]
        result = {"order_id": "A-1024", "status": "packed", "eta": "tomorrow"}
        messages = [
            ask,
            {"role": "assistant", "content": [p for p in call["content"] if "function_call" in p], "tools_state_id": state},
            {"role": "tool", "content": [{"function_result": {"name": "get_order_status", "result": result}}], "tools_state_id": state},
        ]
        second = create(conn, {"messages": messages, "tools": tools})
    assert second.ok, second.final
    rec = fake_api.state.v2_chat_requests[-1]
    assert rec.json["messages"] == messages, "the assistant call (with tools_state_id) and the tool result went upstream unchanged"
    assert assistant_text(second.result) == 'Function get_order_status returned: {"order_id":"A-1024","status":"packed","eta":"tomorrow"}'


def test_web_search_sources_reach_the_client(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        out = create(conn, {**BODIES["web_search"], "stream": True})
    assert out.ok, out.final
    rec = fake_api.state.v2_chat_requests[-1]
    expected_sources = rec.v2_response["messages"][0]["content"][0]["inline_data"]["sources"]
    (text_part,) = [p for p in out.result["messages"][-1]["content"] if "text" in p]
    assert text_part["inline_data"]["sources"] == expected_sources
    tool_events = [e for e in events(out) if e["event"].startswith("response.tool.")]
    assert [e["event"] for e in tool_events] == ["response.tool.in_progress", "response.tool.completed"]
    assert all("text" not in e for e in tool_events), "tool progress is not answer text"
    assert assistant_text(out.result) == rec.reply


# --------------------------------------------------------------------------------------------------
# Generated files: files.content


def test_image_generation_then_files_content(fake_api: FakeGigaChat, daemon: DaemonFactory, tmp_path: Path) -> None:
    fake_api.configure(created_at=CREATED, image_bytes=70000)
    body = {"messages": [user("Нарисуй кота")], **forced("image_generate")}
    d = daemon()
    with d.connect() as conn:
        plain = create(conn, body)
        out = create(conn, {**body, "stream": True})
        assert out.ok and plain.ok, (out.final, plain.final)
        assert fake_v2.same_parts(out.result, plain.result), "same parts as the non-stream answer"
        (files,) = parts(out.result, "files")
        (f,) = files
        assert f["mime"] == "image/jpeg" and f["target"] == "image"
        data = fake_api.state.files[f["id"]]["data"]

        target = tmp_path / "out" / "cat.jpg"
        target.parent.mkdir()
        _, final = conn.call("files.content", {"id": f["id"], "path": str(target)})
        assert pick(final.get("result"), "path", "bytes", "mime") == {"path": str(target), "bytes": len(data), "mime": "image/jpeg"}, final
        assert target.read_bytes() == data
        assert stat.S_IMODE(target.stat().st_mode) == 0o600

        _, again = conn.call("files.content", {"id": f["id"], "path": str(target)})
        assert "error" in again, "an existing file is never overwritten"
        assert target.read_bytes() == data

        other = tmp_path / "out" / "existing.jpg"
        other.write_bytes(b"mine")
        _, final = conn.call("files.content", {"id": f["id"], "path": str(other)})
        assert "error" in final and other.read_bytes() == b"mine"

        _, final = conn.call("files.content", {"id": f["id"]})
        assert {"content_base64", "bytes", "mime"} <= set(final.get("result", {})), final
        assert base64.b64decode(final["result"]["content_base64"]) == data
        assert final["result"]["bytes"] == len(data) and final["result"]["mime"] == "image/jpeg"
    contents = [r for r in fake_api.state.requests if r.path == f"/api/v1/files/{f['id']}/content"]
    assert contents and all(r.method == "GET" for r in contents)


def test_files_content_of_an_uploaded_file_and_refusals(fake_api: FakeGigaChat, daemon: DaemonFactory, tmp_path: Path) -> None:
    src = tmp_path / "doc.pdf"
    src.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 40)
    d = daemon()
    with d.connect() as conn:
        _, up = conn.call("files.upload", {"path": str(src), "mime": "application/pdf"})
        fid = up["result"]["id"]
        _, final = conn.call("files.content", {"id": fid})
        assert final.get("result", {}).get("mime") == "application/pdf", final
        assert base64.b64decode(final["result"]["content_base64"]) == src.read_bytes()

        _, final = conn.call("files.content", {"id": fid, "path": "relative/out.pdf"})
        assert final.get("error", {}).get("code") == -32602, final
        _, final = conn.call("files.content", {"id": "no-such-file"})
        assert final.get("error", {}).get("data", {}).get("status") == 404, final
        assert not (tmp_path / "relative").exists()


# --------------------------------------------------------------------------------------------------
# Failures


@pytest.mark.parametrize("fault,params,partial_events", [
    ("error_event", {"chunks": 2, "status_code": 500, "message": "Internal Server Error"}, 2),
    ("none", {"finish_reason": "error"}, 4),
    ("truncate", {}, 4),
    ("truncate", {"chunks": 1}, 1),
], ids=["event-error", "finish-reason-error", "no-done-event", "cut-after-one"])
def test_stream_failures_are_partial_errors(
    fake_api: FakeGigaChat, daemon: DaemonFactory, fault: str, params: dict[str, Any], partial_events: int
) -> None:
    fake_api.configure(chunks=4)
    fake_api.inject("v2", fault, **params)
    d = daemon()
    with d.connect() as conn:
        out = create(conn, {"messages": [user("раз два три четыре")], "stream": True}, timeout=20)
        assert out.error["code"] == -32005, out.final
        data = out.error["data"]
        assert data["partial"] is True
        rec = fake_api.state.v2_chat_requests[-1]
        pieces = [p["text"] for n, d in rec.v2_events[:partial_events] if n == "response.message.delta"
                  for m in d["messages"] for p in m["content"]]
        assert assistant_text(data["result"]) == "".join(pieces)
        assert "".join(e.get("text", "") for e in events(out)) == "".join(pieces)
        if params.get("finish_reason") == "error":
            assert data["result"]["finish_reason"] == "error"
        assert create(conn, {"messages": [user("снова")]}).ok, "the daemon is fine afterwards"
    assert len(fake_api.state.v2_chat_requests) == 2, "a broken stream is not retried"


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_blacklist_is_a_result(fake_api: FakeGigaChat, daemon: DaemonFactory, stream: bool) -> None:
    fake_api.inject("v2", "blacklist")
    d = daemon()
    with d.connect() as conn:
        out = create(conn, {"messages": [user("запретная тема")], "stream": stream})
    assert out.ok, out.final
    assert out.result["finish_reason"] == "blacklist"
    assert assistant_text(out.result) == fake_v2.BLACKLIST_TEXT


STOPS = {
    "402": ("payment_required", {}, 402, -32013),
    "423": ("stop_event", {}, 423, -32014),
    "403-stop": ("stop_event", {"status": 403}, 403, -32014),
}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
@pytest.mark.parametrize("method", ["chat", "chat.create"])
@pytest.mark.parametrize("case", list(STOPS))
def test_payment_and_stop_events_are_never_retried(
    fake_api: FakeGigaChat, daemon: DaemonFactory, case: str, method: str, stream: bool
) -> None:
    kind, params, status, code = STOPS[case]
    fake_api.inject("v2" if method == "chat.create" else "chat", kind, **params)
    # Even with these statuses on the retry list the daemon must not repeat the request.
    d = daemon(env={"GIGACHAT_MAX_RETRIES": "3", "GIGACHAT_RETRY_BACKOFF_FACTOR": "0.01",
                    "GIGACHAT_RETRY_ON_STATUS_CODES": "[402,403,423,429,500]"})
    with d.connect() as conn:
        if method == "chat":
            out = conn.chat("hi", stream=stream)
        else:
            out = create(conn, {"messages": [user("hi")], "stream": stream})
    assert out.error["code"] == code, out.final
    assert out.error["data"]["status"] == status
    msg = out.error["message"]
    assert isinstance(msg, str) and msg and "\n" not in msg
    route = fake_api.state.v2_chat_requests if method == "chat.create" else fake_api.state.chat_requests
    assert len(route) == 1, f"{status} was retried: {len(route)} upstream requests"


def test_a_plain_403_is_not_a_stop_event(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.inject("v2", "status", status=403, message="Permission denied")
    d = daemon()
    with d.connect() as conn:
        out = create(conn, {"messages": [user("hi")]})
    assert out.error["code"] == -32003 and out.error["data"]["status"] == 403, out.final


@pytest.mark.parametrize("method,path,params", [
    ("models", "/models", None), ("embeddings", "/embeddings", {"input": "текст"}), ("balance", "/balance", None),
])
def test_payment_and_stop_events_map_the_same_for_every_method(
    fake_api: FakeGigaChat, daemon: DaemonFactory, method: str, path: str, params: Any
) -> None:
    d = daemon()
    with d.connect() as conn:
        fake_api.inject(path, "payment_required")
        _, final = conn.call(method, params)
        assert final.get("error", {}).get("code") == -32013 and final["error"]["data"]["status"] == 402, final
        fake_api.inject(path, "stop_event")
        _, final = conn.call(method, params)
        assert final.get("error", {}).get("code") == -32014 and final["error"]["data"]["status"] == 423, final
    assert len(fake_api.state.requests_to(path)) == 2


# --------------------------------------------------------------------------------------------------
# ai.check and functions.convert


def test_ai_check(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    text = "Этот текст достаточно длинный, чтобы детектор нашёл в нём кусок от нейросети."
    d = daemon()
    with d.connect() as conn:
        _, final = conn.call("ai.check", {"input": text})
        rec = fake_api.state.requests_to("/ai/check")[-1]
        assert final.get("result") == fake_v2.ai_check(text), final
        assert rec.method == "POST" and rec.json == {"input": text, "model": "GigaCheckDetection"}
        _, final = conn.call("ai.check", {"input": "коротко", "model": "GigaCheckClassification"})
        assert final.get("result", {}).get("category") == "human", final
        assert fake_api.state.requests_to("/ai/check")[-1].json["model"] == "GigaCheckClassification"
        _, final = conn.call("ai.check", {"input": 5})
        assert final.get("error", {}).get("code") == -32602, final
    assert len(fake_api.state.requests_to("/ai/check")) == 2


OPENAPI = json.dumps({"openapi": "3.0.0", "paths": {"/sms": {"post": {
    "operationId": "send_sms", "summary": "Отправка SMS",
    "parameters": [{"name": "text", "in": "query", "required": True, "schema": {"type": "string"}}],
}}}}, ensure_ascii=False, indent=2)


def test_functions_convert(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        _, final = conn.call("functions.convert", {"openapi": OPENAPI})
        _, bad = conn.call("functions.convert", {"openapi": {"paths": {}}})
    assert final.get("result") == fake_v2.convert_functions(OPENAPI), final
    assert bad.get("error", {}).get("code") == -32602, bad
    assert len(fake_api.state.requests_to("/functions/convert")) == 1
    rec = fake_api.state.requests_to("/functions/convert")[-1]
    assert rec.method == "POST" and rec.body == OPENAPI.encode(), "the raw OpenAPI text is the body"


# --------------------------------------------------------------------------------------------------
# Conversations and sessions across both contracts


def test_conversation_continues_across_chat_and_chat_create(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        assert conn.chat("Первый", stream=False, conversation="mix").ok
        out = create(conn, {"messages": [user("Второй")], "conversation": "mix", "stream": True})
        assert out.ok, out.final
        assert conn.chat("Третий", stream=True, conversation="mix").ok
        assert create(conn, {"messages": [user("Четвёртый")], "conversation": "mix"}).ok
    v1 = fake_api.state.chat_requests
    v2 = fake_api.state.v2_chat_requests
    assert [r.path for r in fake_api.state.requests if r.route in ("/chat/completions", V2_CHAT_PATH)] == [
        "/api/v1/chat/completions", V2_CHAT_PATH, "/api/v1/chat/completions", V2_CHAT_PATH]
    history = [("user", "Первый"), ("assistant", "Echo: Первый"), ("user", "Второй"), ("assistant", "Echo: Второй"),
               ("user", "Третий"), ("assistant", "Echo: Третий"), ("user", "Четвёртый")]
    assert turns(v2[0].json["messages"]) == history[:3]
    assert turns(v1[1].json["messages"]) == history[:5]
    assert turns(v2[1].json["messages"]) == history
    # each contract gets its own shapes: parts on v2, strings on v1
    assert all(isinstance(m["content"], list) for r in v2 for m in r.json["messages"])
    assert all(isinstance(m["content"], str) for r in v1 for m in r.json["messages"])
    assert all("conversation" not in r.json for r in v1 + v2)


def test_a_conversation_keeps_one_session_id_unless_one_is_given(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        assert conn.chat("a1", stream=False, conversation="alpha").ok
        assert create(conn, {"messages": [user("a2")], "conversation": "alpha"}).ok
        assert create(conn, {"messages": [user("b1")], "conversation": "beta", "stream": True}).ok
        assert create(conn, {"messages": [user("a3")], "conversation": "alpha", "session_id": "explicit-1"}).ok
        assert conn.chat("a4", stream=True, conversation="alpha").ok
    a1, a2, b1, a3, a4 = fake_api.state.session_ids
    assert a1 and a1 == a2 == a4, "one X-Session-ID per conversation, on both contracts, across turns"
    assert b1 and b1 != a1, "another conversation, another session"
    assert a3 == "explicit-1", "a session_id in the request wins"
    assert all("session_id" not in r.json for r in fake_api.state.chat_requests + fake_api.state.v2_chat_requests)


def test_session_id_survives_a_daemon_restart(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    with d.connect() as conn:
        assert create(conn, {"messages": [user("до")], "conversation": "kept"}).ok
    d.stop()
    d2 = daemon()
    with d2.connect() as conn:
        assert create(conn, {"messages": [user("после")], "conversation": "kept"}).ok
    first, second = fake_api.state.session_ids
    assert first and first == second, "the session id is stored with the conversation"


# --------------------------------------------------------------------------------------------------
# The default base URL


def test_default_base_url_is_api_giga_chat(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    # No credentials and no GIGACHAT_BASE_URL: nothing is ever sent, the status shows the default.
    d = daemon(env={"GIGACHAT_BASE_URL": None}, credentials=False)
    with d.connect() as conn:
        _, final = conn.call("status")
    assert final["result"]["upstream"]["base_url"] == "https://api.giga.chat/v1"
    assert fake_api.state.requests == []
