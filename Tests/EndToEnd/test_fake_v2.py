"""Checks of the fake API's v2 ("primary") chat contract and the endpoints it uses: no Swift involved.

The shapes are pinned to the official SDK's recorded cassettes (ai-forever/gigachat,
tests/integration/cassettes/test_primary_*.yaml) where there is a recording; the rest are the guesses
fake_gigachat/v2.py names. What matters most for the daemon's tests: every stream adds up (by the spec's
rules, fake_v2.assemble) to exactly the non-stream answer to the same request.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

import pytest

from fake_gigachat import V2_CHAT_PATH, FakeGigaChat
from fake_gigachat import v2 as fake_v2
from test_fake_gigachat import Client

CREATED = 1780321864  # the recorded created_at of test_primary_chat_stream_simple

ORDER_TOOL = {"functions": {"specifications": [{
    # the recorded round trip's function (test_primary_chat_function_tool_roundtrip)
    "name": "get_order_status", "description": "Get delivery status for an order.",
    "parameters": {"type": "object", "properties": {"order_id": {"type": "string", "description": "Order identifier."}},
                   "required": ["order_id"]},
    "return_parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "status": {"type": "string"},
                                                           "eta": {"type": "string"}}, "required": ["order_id", "status", "eta"]},
}, {
    "name": "get_weather", "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city", "days"]},
}]}}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


class V2Client(Client):
    def v2(self, body: Any, token: Optional[str] = None, headers: Optional[dict[str, str]] = None) -> tuple[Any, bytes]:
        hdrs = {"Authorization": f"Bearer {token or self.token()}"}
        if isinstance(body, dict) and body.get("stream"):
            hdrs.update({"Accept": "text/event-stream", "Cache-Control": "no-store"})
        hdrs.update(headers or {})
        return self.request("POST", V2_CHAT_PATH, body, hdrs)

    def both(self, body: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]], bytes]:
        """(non-stream answer, streamed events, raw stream) for the same request."""
        token = self.token()
        resp, raw = self.v2(body, token)
        assert resp.status == 200, raw
        resp, stream = self.v2({**body, "stream": True}, token)
        assert resp.status == 200, stream
        return json.loads(raw), [(n, json.loads(d)) for n, d in fake_v2.parse_named_sse(stream)], stream


@pytest.fixture
def client(fake_api: FakeGigaChat) -> V2Client:
    fake_api.configure(created_at=CREATED)
    return V2Client(fake_api)


EVENT_RE = re.compile(rb"event: ([a-z.]+)\ndata: (\{[^\n]*\})\n\n")


def test_nonstream_answer_is_the_recorded_shape(fake_api: FakeGigaChat, client: V2Client) -> None:
    body = {"model": "GigaChat", "messages": [user("Say 'Hello' and nothing else")]}
    resp, raw = client.v2(body, headers={"X-Session-ID": "sess-1"})
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/json; charset=utf-8"  # recorded for v2
    assert resp.getheader("X-Session-Id") == "sess-1" and resp.getheader("X-Request-Id")
    answer = json.loads(raw)
    assert list(answer) == ["model", "created_at", "messages", "finish_reason", "usage"]
    assert answer["messages"] == [{"role": "assistant", "content": [{"text": "Echo: Say 'Hello' and nothing else"}]}]
    assert answer["model"] == "GigaChat:2.0.28.2" and answer["created_at"] == CREATED and answer["finish_reason"] == "stop"
    usage = answer["usage"]
    assert set(usage) == {"input_tokens", "input_tokens_details", "output_tokens", "total_tokens"}
    assert set(usage["input_tokens_details"]) == {"prompt_tokens", "cached_tokens"}
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    rec = fake_api.state.v2_chat_requests[-1]
    assert rec.path == V2_CHAT_PATH and rec.session_id == "sess-1" and rec.v2_response == answer
    assert fake_api.state.chat_requests == []  # v1 and v2 chats are counted apart
    assert fake_api.state.session_ids == ["sess-1"]


def test_stream_is_byte_exact_named_events(fake_api: FakeGigaChat, client: V2Client) -> None:
    fake_api.configure(chunks=3)
    resp, raw = client.v2({"model": "GigaChat", "stream": True, "messages": [user("Count from 1 to 3")]})
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    # recorded: "event: NAME\ndata: {one-line JSON}\n\n" per event, LF, and no [DONE]
    frames = EVENT_RE.findall(raw)
    assert b"".join(b"event: %s\ndata: %s\n\n" % f for f in frames) == raw
    names = [n.decode() for n, _ in frames]
    assert names == ["response.message.delta"] * 3 + ["response.message.done"]
    deltas = [json.loads(d) for _, d in frames[:-1]]
    for d in deltas:
        assert list(d) == ["model", "created_at", "messages"] and "delta" not in d
        assert d["messages"][0]["role"] == "assistant" and list(d["messages"][0]["content"][0]) == ["text"]
    assert "".join(d["messages"][0]["content"][0]["text"] for d in deltas) == "Echo: Count from 1 to 3"
    done = json.loads(frames[-1][1])
    assert list(done) == ["model", "created_at", "finish_reason", "usage"]  # recorded: no messages on a text turn
    rec = fake_api.state.v2_chat_requests[-1]
    assert rec.stream and rec.events_sent == 4 and rec.sent_content == "Echo: Count from 1 to 3"
    assert [n for n, _ in rec.sent_events] == names


REQUESTS = {
    "plain": {"model": "GigaChat", "messages": [user("Привет, мир")]},
    "reasoning": {"model": "GigaChat-2-Reasoning", "messages": [user("Сколько будет 2+2?")],
                  "model_options": {"reasoning": {"effort": "high"}}},
    "function_calls": {"model": "GigaChat", "messages": [user("Где заказ A-1024 и какая погода?")], "tools": [ORDER_TOOL],
                       "tool_config": {"mode": "auto"}},
    "web_search": {"model": "GigaChat", "messages": [user("Что нового в Python?")],
                   "tools": [{"web_search": {"type": "actual_info_web_search"}}],
                   "tool_config": {"mode": "forced", "tool_name": "web_search"}},
    "code_interpreter": {"model": "GigaChat", "messages": [user("Sum of the first 20 primes")],
                         "tools": [{"code_interpreter": {}}], "tool_config": {"mode": "auto"}},
    "url_content_extraction": {"model": "GigaChat", "messages": [user("Read https://docs.python.org/3/")],
                               "tools": [{"url_content_extraction": {}}],
                               "tool_config": {"mode": "forced", "tool_name": "url_content_extraction"}},
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_stream_adds_up_to_the_nonstream_answer(client: V2Client, name: str) -> None:
    answer, events, _ = client.both(REQUESTS[name])
    assert fake_v2.assemble(events) == answer
    assert events[-1][0] == "response.message.done"
    assert events[-1][1]["usage"] == answer["usage"] and events[-1][1]["finish_reason"] == answer["finish_reason"]


def test_reasoning_comes_first_and_stays_apart(client: V2Client) -> None:
    answer, events, _ = client.both(REQUESTS["reasoning"])
    assert [m["role"] for m in answer["messages"]] == ["reasoning", "assistant"]
    roles = [e[1]["messages"][0]["role"] for e in events if e[0] == "response.message.delta"]
    assert roles == sorted(roles, key=lambda r: r != "reasoning") and roles[0] == "reasoning" and "assistant" in roles
    assert answer["messages"][1]["content"] == [{"text": "Echo: Сколько будет 2+2?"}]


def test_several_function_calls_arrive_whole_in_the_done_event(client: V2Client) -> None:
    answer, events, _ = client.both(REQUESTS["function_calls"])
    assert [n for n, _ in events] == ["response.message.done"]  # never in a delta (reference §7)
    done = events[0][1]
    assert done["finish_reason"] == "function_call"
    message = done["messages"][0]
    # recorded: {"role":"assistant","tool_state_id":...,"content":[{"function_call":{"name","arguments":{...}}}]}
    assert list(message) == ["role", "tool_state_id", "content"]
    assert message["content"] == [
        {"function_call": {"name": "get_order_status", "arguments": {"order_id": "A-1024"}}},
        {"function_call": {"name": "get_weather", "arguments": {"city": "A-1024", "days": 1}}},
    ]
    assert answer["messages"] == done["messages"] and answer["finish_reason"] == "function_call"


def test_forced_function_then_tool_result_round_trip(fake_api: FakeGigaChat, client: V2Client) -> None:
    first = {"model": "GigaChat", "messages": [user("Check order A-1024 and answer naturally.")],
             "tool_config": {"mode": "forced", "function_name": "get_order_status"}, "tools": [ORDER_TOOL]}
    token = client.token()
    answer = json.loads(client.v2(first, token)[1])
    message = answer["messages"][0]
    assert message["content"] == [{"function_call": {"name": "get_order_status", "arguments": {"order_id": "A-1024"}}}]
    state = message["tool_state_id"]
    # recorded second request: the call echoed with tools_state_id, then role "tool" with function_result
    result = {"order_id": "A-1024", "status": "packed", "eta": "tomorrow"}
    second = {"model": "GigaChat", "tools": [ORDER_TOOL], "messages": [
        first["messages"][0],
        {"content": message["content"], "tools_state_id": state, "role": "assistant"},
        {"content": [{"function_result": {"name": "get_order_status", "result": result}}], "tools_state_id": state, "role": "tool"},
    ]}
    resp, raw = client.v2(second, token)
    assert resp.status == 200, raw
    answer2 = json.loads(raw)
    assert answer2["finish_reason"] == "stop" and answer2["messages"][0]["tool_state_id"] not in (None, state)
    assert answer2["messages"][0]["content"] == [
        {"text": 'Function get_order_status returned: {"order_id":"A-1024","status":"packed","eta":"tomorrow"}'}]

    # a call without its result after it is refused
    broken = {**second, "messages": second["messages"][:2] + [user("ну?")]}
    resp, raw = client.v2(broken, token)
    assert resp.status == 422 and set(json.loads(raw)) == {"status", "message"}


@pytest.mark.parametrize("bad", [
    [{"role": "user", "content": "a plain string"}],  # v2 wants a list of parts
    [{"role": "function", "name": "f", "content": [{"text": "{}"}]}],  # a v1 role
    [{"role": "user", "content": [{"text": "hi"}]}, {"role": "system", "content": [{"text": "late"}]}],
    [],
])
def test_requests_for_the_wrong_contract_are_refused(client: V2Client, bad: list[Any]) -> None:
    resp, raw = client.v2({"model": "GigaChat", "messages": bad})
    assert resp.status == 422 and json.loads(raw)["status"] == 422


def test_unknown_model_and_missing_token(client: V2Client) -> None:
    resp, raw = client.v2({"model": "NoSuchModel", "messages": [user("hi")]})
    assert (resp.status, json.loads(raw)) == (404, {"status": 404, "message": "No such model"})
    resp, raw = client.request("POST", V2_CHAT_PATH, {"model": "GigaChat", "messages": [user("hi")]})
    assert resp.status == 401


def test_web_search_sources_ride_on_the_text_part(client: V2Client) -> None:
    answer, events, _ = client.both(REQUESTS["web_search"])
    message = answer["messages"][0]
    assert message["tool_state_id"]  # recorded on every answer to a request with tools
    (part,) = message["content"]
    assert part["text"].endswith("[sources=[1]]")
    assert set(part["inline_data"]) == {"images", "sources"}
    assert all(set(s) == {"url", "title"} for s in part["inline_data"]["sources"].values())
    tool_events = [(n, d["messages"][0]["content"][0]["tool_execution"]) for n, d in events if n.startswith("response.tool.")]
    assert tool_events == [("response.tool.in_progress", {"name": "web_search", "status": "in_progress", "seconds_left": 3}),
                           ("response.tool.completed", {"name": "web_search", "status": "success"})]


def test_image_generate_file_part_and_its_bytes(fake_api: FakeGigaChat, client: V2Client) -> None:
    fake_api.configure(image_bytes=5000)
    body = {"model": "GigaChat", "messages": [user("Нарисуй кота")], "tools": [{"image_generate": {}}],
            "tool_config": {"mode": "forced", "tool_name": "image_generate"}}
    answer, events, _ = client.both(body)
    content = answer["messages"][0]["content"]
    # recorded order: the files part, then the text part
    assert list(content[0]) == ["files"] and list(content[1]) == ["text"]
    (f,) = content[0]["files"]
    assert set(f) == {"id", "mime", "target"} and f["mime"] == "image/jpeg" and f["target"] == "image"
    # the spec's assembly puts the text first: equal but for that order
    assert fake_v2.assemble(events) != answer and fake_v2.same_parts(fake_v2.assemble(events), answer)
    resp, data = client.api("GET", f"/files/{f['id']}/content")
    assert resp.status == 200 and resp.getheader("Content-Type") == "image/jpeg"
    assert len(data) == 5000 and data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9"
    assert data == fake_api.state.files[f["id"]]["data"] == fake_v2.fake_jpeg(f["id"], 5000)


def test_error_event_mid_stream(fake_api: FakeGigaChat, client: V2Client) -> None:
    fake_api.inject("v2", "error_event", chunks=2, status_code=503, message="Model overloaded")
    resp, raw = client.v2({"model": "GigaChat", "stream": True, "messages": [user("раз два три четыре")]})
    assert resp.status == 200  # the error comes after a 200
    events = fake_v2.parse_named_sse(raw)
    assert [n for n, _ in events] == ["response.message.delta"] * 2 + ["error"]
    assert json.loads(events[-1][1]) == {"status_code": 503, "message": "Model overloaded"}
    rec = fake_api.state.v2_chat_requests[-1]
    assert rec.fault == "error_event" and rec.events_sent == 3

    fake_api.inject("v2", "error_event", status_code=500)  # not a stream: an HTTP error instead
    resp, raw = client.v2({"model": "GigaChat", "messages": [user("hi")]})
    assert resp.status == 500 and json.loads(raw)["status"] == 500


def test_truncated_stream_has_no_done_event(fake_api: FakeGigaChat, client: V2Client) -> None:
    fake_api.inject("v2", "truncate")
    resp, raw = client.v2({"model": "GigaChat", "stream": True, "messages": [user("раз два три")]})
    events = fake_v2.parse_named_sse(raw)
    assert events and all(n == "response.message.delta" for n, _ in events)
    assert fake_api.state.v2_chat_requests[-1].sent_content == "Echo: раз два три"


@pytest.mark.parametrize("sse", ["crlf", "nospace", "split", "crlf+nospace+split+leading_blank"])
def test_framing_variants_carry_the_same_events(fake_api: FakeGigaChat, client: V2Client, sse: str) -> None:
    body = REQUESTS["reasoning"]
    answer, _, _ = client.both(body)
    fake_api.inject("v2", "none", sse=sse)
    resp, raw = client.v2({**body, "stream": True})
    events = [(n, json.loads(d)) for n, d in fake_v2.parse_named_sse(raw)]
    assert fake_v2.assemble(events) == answer


def test_finish_reasons_blacklist_error_and_length(fake_api: FakeGigaChat, client: V2Client) -> None:
    fake_api.inject("v2", "blacklist")
    answer = json.loads(client.v2({"model": "GigaChat", "messages": [user("запретное")]})[1])
    assert answer["finish_reason"] == "blacklist"
    assert answer["messages"][0]["content"] == [{"text": fake_v2.BLACKLIST_TEXT}]
    fake_api.inject("chat", "blacklist")  # v1 too
    v1 = json.loads(client.chat("запретное", stream=False)[1])
    assert v1["choices"][0]["finish_reason"] == "blacklist" and v1["choices"][0]["message"]["content"] == fake_v2.BLACKLIST_TEXT

    fake_api.inject("v2", "none", finish_reason="error")
    _, raw = client.v2({"model": "GigaChat", "stream": True, "messages": [user("hi")]})
    assert json.loads(fake_v2.parse_named_sse(raw)[-1][1])["finish_reason"] == "error"

    fake_api.inject("v2", "none", reasoning_only=True)
    answer = json.loads(client.v2(REQUESTS["reasoning"])[1])
    assert [m["role"] for m in answer["messages"]] == ["reasoning"] and answer["finish_reason"] == "length"


@pytest.mark.parametrize("path", ["v2", "chat"])
def test_payment_and_stop_event_faults(fake_api: FakeGigaChat, client: V2Client, path: str) -> None:
    def call() -> tuple[int, Any]:
        if path == "v2":
            resp, raw = client.v2({"model": "GigaChat", "messages": [user("hi")]})
        else:
            resp, raw = client.chat("hi", stream=False)
        return resp.status, json.loads(raw)

    fake_api.inject(path, "payment_required")
    assert call() == (402, {"status": 402, "message": "Payment Required"})
    fake_api.inject(path, "stop_event")
    status, body = call()
    assert status == 423 and fake_v2.STOP_EVENT_PHRASE in body["message"]
    fake_api.inject(path, "stop_event", status=403)
    status, body = call()
    assert status == 403 and fake_v2.STOP_EVENT_PHRASE in body["message"]
    fake_api.inject("/models", "payment_required")  # any endpoint
    assert client.api("GET", "/models")[0].status == 402
    assert call()[0] == 200


def test_ai_check(fake_api: FakeGigaChat, client: V2Client) -> None:
    text = "Этот текст достаточно длинный, чтобы детектор нашёл в нём кусок от нейросети."
    resp, raw = client.api("POST", "/ai/check", {"input": text, "model": "GigaCheckDetection"})
    assert resp.status == 200
    body = json.loads(raw)  # the SDK fixture's shape
    assert set(body) == {"category", "characters", "tokens", "ai_intervals"} and body["category"] in ("ai", "human", "mixed")
    assert body["characters"] == len(text) and all(len(i) == 2 for i in body["ai_intervals"])
    assert json.loads(client.api("POST", "/ai/check", {"input": "коротко", "model": "GigaCheckDetection"})[1])["category"] == "human"
    assert client.api("POST", "/ai/check", {"input": text, "model": "GigaChat"})[0].status == 404
    assert client.api("POST", "/ai/check", {"input": text})[0].status == 422


OPENAPI_JSON = json.dumps({"openapi": "3.0.0", "paths": {"/sms": {"post": {
    "operationId": "send_sms", "summary": "Отправка SMS по табельному номеру",
    "parameters": [{"name": "employeeId", "in": "query", "required": True, "schema": {"type": "integer"}},
                   {"name": "text", "in": "query", "schema": {"type": "string"}, "description": "Текст смс"}],
}}}}, ensure_ascii=False)

OPENAPI_YAML = """openapi: 3.0.0
paths:
  /sms:
    post:
      operationId: send_sms
  /status:
    get:
      operationId: "get_status"
"""


def test_functions_convert(fake_api: FakeGigaChat, client: V2Client) -> None:
    resp, raw = client.api("POST", "/functions/convert", OPENAPI_JSON.encode())
    assert resp.status == 200
    (fn,) = json.loads(raw)["functions"]
    assert fn["name"] == "send_sms" and fn["description"] == "Отправка SMS по табельному номеру"
    assert fn["parameters"]["required"] == ["employeeId"] and set(fn["parameters"]["properties"]) == {"employeeId", "text"}
    assert fake_api.state.requests_to("/functions/convert")[-1].body == OPENAPI_JSON.encode()
    resp, raw = client.api("POST", "/functions/convert", OPENAPI_YAML.encode())
    assert [f["name"] for f in json.loads(raw)["functions"]] == ["send_sms", "get_status"]
    assert client.api("POST", "/functions/convert", b"not an openapi document")[0].status == 422


def test_uploaded_file_content(fake_api: FakeGigaChat, client: V2Client) -> None:
    data = bytes(range(256)) * 10
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode() + data + (
            f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\ngeneral\r\n--{boundary}--\r\n").encode()
    resp, raw = client.api("POST", "/files", body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    fid = json.loads(raw)["id"]
    resp, content = client.api("GET", f"/files/{fid}/content")
    assert resp.status == 200 and content == data and resp.getheader("Content-Type") == "application/pdf"
    assert client.api("GET", "/files/no-such-file/content")[0].status == 404


def test_fault_aliases_name_the_v2_path() -> None:
    from fake_gigachat import fault_key
    assert fault_key("v2") == fault_key("chat.create") == fault_key(V2_CHAT_PATH) == V2_CHAT_PATH
    assert fault_key("chat") == "/chat/completions"
