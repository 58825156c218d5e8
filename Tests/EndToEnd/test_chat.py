"""The chat method end to end: gigachatd between a socket client and the fake API.

What a script sees: chat.delta notifications for its id while the reply streams, then exactly one
final response in GigaChat's non-stream shape whose content is the concatenation of the deltas.
"""

from __future__ import annotations

from typing import Any

import pytest

from fake_gigachat import FakeGigaChat
from harness import DaemonFactory

PROMPT = "Привет! Расскажи анекдот"


def user(content: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


def test_streaming_chat_deltas_add_up_to_the_final_result(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.configure(chunks=5, chunk_interval=0.02)
    d = daemon()
    with d.connect() as conn:
        out = conn.chat(PROMPT, id=1)
    expected = fake_api.reply_for(user(PROMPT))

    assert out.ok, out.final
    assert len(out.deltas) >= 2, "the reply came in 5 chunks; the client should see it arrive in pieces"
    for n in out.notifications:
        assert n["jsonrpc"] == "2.0" and n["method"] == "chat.delta" and "id" not in n
        assert n["params"]["id"] == 1 and type(n["params"]["id"]) is int
        assert isinstance(n["params"]["content"], str)
    assert out.delta_text == expected

    assert out.final["jsonrpc"] == "2.0" and out.final["id"] == 1 and "error" not in out.final
    result = out.result
    assert {"choices", "created", "model", "object", "usage"} <= set(result)
    choice = result["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == expected
    assert choice["finish_reason"] == "stop"
    assert result["model"] == "GigaChat:2.0.28.2"  # the resolved model the API reported
    rec = fake_api.state.chat_requests[-1]
    assert result["usage"] == rec.usage
    assert rec.json["stream"] is True and rec.json["messages"] == user(PROMPT)


def test_deltas_arrive_while_the_upstream_is_still_streaming(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    # 4 content events 0.3 s apart: a relay that buffers the whole reply shows the first delta
    # only about a second later, together with the final response.
    fake_api.configure(chunks=4, chunk_interval=0.3)
    d = daemon()
    out = d.chat("раз два три четыре")
    assert out.ok, out.final
    assert out.first_delta_at is not None
    assert out.elapsed - out.first_delta_at >= 0.6, (
        f"first delta at {out.first_delta_at:.2f}s, final at {out.elapsed:.2f}s: the reply was not streamed"
    )


@pytest.mark.parametrize("stream", [False, None], ids=["stream-false", "stream-omitted"])
def test_non_streaming_chat_gets_only_the_final_response(
    fake_api: FakeGigaChat, daemon: DaemonFactory, stream: Any
) -> None:
    d = daemon()
    params: dict[str, Any] = {"messages": user(PROMPT)}
    if stream is not None:
        params["stream"] = stream
    with d.connect() as conn:
        notifications, final = conn.call("chat", params, id="q-1")
        assert conn.expect_silence(0.2) == []
    assert notifications == []
    assert final["id"] == "q-1" and final["jsonrpc"] == "2.0"
    choice = final["result"]["choices"][0]
    assert choice["message"]["content"] == fake_api.reply_for(user(PROMPT))
    assert choice["finish_reason"] == "stop"
    assert final["result"]["usage"]["total_tokens"] > 0
    assert fake_api.state.chat_requests[-1].json.get("stream") in (None, False)


@pytest.mark.parametrize("env_model,expected", [(None, "GigaChat"), ("GigaChat-2-Pro", "GigaChat-2-Pro")])
def test_model_defaults_to_gigachat_model(
    fake_api: FakeGigaChat, daemon: DaemonFactory, env_model: str | None, expected: str
) -> None:
    d = daemon(model=env_model)
    out = d.chat("hi", stream=False)
    assert out.ok, out.final
    assert fake_api.state.chat_requests[-1].json["model"] == expected
    assert out.result["model"] == f"{expected}:2.0.28.2"

    out = d.chat("hi", stream=False, model="GigaChat-2-Max")  # an explicit model wins
    assert out.ok, out.final
    assert fake_api.state.chat_requests[-1].json["model"] == "GigaChat-2-Max"


def test_chat_params_pass_through_unchanged(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    messages = [
        {"role": "system", "content": "Ты — краткий помощник."},
        {"role": "user", "content": "Как дела?"},
        {"role": "assistant", "content": "Хорошо."},
        {"role": "user", "content": "А у меня: \"отлично\"\nи\tтак далее 🙂"},
    ]
    params = {
        "model": "GigaChat-2-Max", "temperature": 0.3, "top_p": 0.9, "max_tokens": 77,
        "repetition_penalty": 1.1, "update_interval": 0,
    }
    d = daemon()
    out = d.chat(messages, **params)
    assert out.ok, out.final
    body = fake_api.state.chat_requests[-1].json
    for key, value in params.items():
        assert body[key] == value, f"{key} did not reach the API unchanged"
    assert body["messages"] == messages
    assert out.content == "Echo: " + messages[-1]["content"]


def test_function_definitions_pass_through_and_the_call_comes_back(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    functions = [{
        "name": "weather_forecast",
        "description": "Прогноз погоды",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}, "num_days": {"type": "integer"}},
                       "required": ["location", "num_days"]},
        "few_shot_examples": [{"request": "погода в Москве", "params": {"location": "Москва", "num_days": 1}}],
    }]
    d = daemon()
    out = d.chat("Какая погода?", stream=False, functions=functions, function_call="auto")
    assert out.ok, out.final
    body = fake_api.state.chat_requests[-1].json
    assert body["functions"] == functions and body["function_call"] == "auto"
    choice = out.result["choices"][0]
    assert choice["finish_reason"] == "function_call"
    # v1 arguments are a JSON object, not a string (reference §5.2)
    assert choice["message"]["function_call"] == {"name": "weather_forecast", "arguments": {"location": "Москва", "num_days": 1}}


def test_connections_to_the_api_are_kept_alive(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon()
    for i in range(5):
        out = d.chat(f"вопрос {i}", stream=i % 2 == 0)
        assert out.ok, out.final
    chats = fake_api.state.chat_requests
    assert len(chats) == 5
    assert len({r.conn for r in chats}) == 1, "five sequential chats should share one kept-alive connection"
    assert fake_api.state.connections_accepted <= 2  # at most one more for OAuth
