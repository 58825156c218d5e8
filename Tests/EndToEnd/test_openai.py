"""The OpenAI-compatible HTTP front end, driven by real clients: the `openai` package (sync and async,
over the Unix socket through an httpx transport with uds= and over loopback TCP with the local key),
LangChain's ChatOpenAI, and curl for the raw wire. docs/OPENAI.md describes what is tested here.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import httpx
import openai
import pytest

from fake_gigachat import FakeGigaChat
from harness import PEER_CLIENT, Daemon, DaemonFactory, as_nobody, open_doors, wait_until

ALIASES = {"gpt-4o": "GigaChat-2-Max", "text-embedding-3-small": "Embeddings"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "local_time",
        "description": "Local time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Front:
    """One daemon with both HTTP listeners, and clients for them."""

    def __init__(self, d: Daemon, port: int) -> None:
        self.d = d
        self.port = port
        self.sock = d.socket_path.parent / "openai.sock"
        self.key_file = Path(d.env["XDG_CONFIG_HOME"]) / "gigachat" / "http-key"
        self._closers: list[Any] = []
        assert wait_until(self.sock.exists, 5), f"no {self.sock}{d.diagnostics()}"

    @property
    def key(self) -> str:
        return self.key_file.read_text().strip()

    @property
    def tcp_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def client(self, transport: str = "unix", **kw: Any) -> openai.OpenAI:
        kw.setdefault("max_retries", 0)
        kw.setdefault("timeout", 20)
        if transport == "unix":
            http = httpx.Client(transport=httpx.HTTPTransport(uds=str(self.sock)))
            self._closers.append(http)
            return openai.OpenAI(base_url="http://gigachatd/v1", api_key="unused", http_client=http, **kw)
        return openai.OpenAI(base_url=self.tcp_base, api_key=kw.pop("api_key", self.key), **kw)

    def async_client(self, transport: str = "unix", **kw: Any) -> openai.AsyncOpenAI:
        kw.setdefault("max_retries", 0)
        kw.setdefault("timeout", 20)
        if transport == "unix":
            http = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=str(self.sock)))
            return openai.AsyncOpenAI(base_url="http://gigachatd/v1", api_key="unused", http_client=http, **kw)
        return openai.AsyncOpenAI(base_url=self.tcp_base, api_key=self.key, **kw)

    def raw(self) -> httpx.Client:
        http = httpx.Client(transport=httpx.HTTPTransport(uds=str(self.sock)), base_url="http://gigachatd", timeout=20)
        self._closers.append(http)
        return http

    def close(self) -> None:
        for c in self._closers:
            c.close()


@pytest.fixture
def front(daemon: DaemonFactory) -> Iterator[Any]:
    """``front(**daemon_options)``: gigachatd with the HTTP socket, TCP on a free port and model aliases."""
    made: list[Front] = []

    def start(env: Optional[dict[str, Optional[str]]] = None, **kw: Any) -> Front:
        port = free_port()
        full = {"GIGACHATD_HTTP_LISTEN": f"127.0.0.1:{port}", "GIGACHATD_OPENAI_MODEL_ALIASES": json.dumps(ALIASES)}
        full.update(env or {})
        f = Front(daemon(env=full, **kw), port)
        made.append(f)
        return f

    yield start
    for f in made:
        f.close()
        # The local key is a secret too: never in what the daemon logged.
        if f.key_file.exists():
            assert f.key not in f.d.stderr() and f.key not in f.d.stdout(), "the local key was logged"


TRANSPORTS = ["unix", "tcp"]


# --------------------------------------------------------------------------------------------------
# Models, chat, embeddings with the openai package


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_models(front: Any, transport: str) -> None:
    f = front()
    client = f.client(transport)
    ids = [m.id for m in client.models.list()]
    assert "GigaChat-2-Max" in ids and "Embeddings" in ids
    assert "gpt-4o" in ids, "aliases are listed as models"
    assert client.models.retrieve("GigaChat-2-Max").id == "GigaChat-2-Max"
    alias = client.models.retrieve("gpt-4o")
    assert alias.id == "gpt-4o" and "GigaChat-2-Max" in alias.owned_by
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model")
    assert info.value.code == "model_not_found"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_chat_non_stream(front: Any, fake_api: FakeGigaChat, transport: str) -> None:
    f = front()
    client = f.client(transport)
    reply = client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": "Answer in Russian."},
            {"role": "user", "content": [{"type": "text", "text": "Привет"}, {"type": "text", "text": "мир"}]},
        ],
        max_completion_tokens=50,
        temperature=0.3,
        user="someone",
        seed=1,
    )
    sent = fake_api.state.chat_requests[-1].json
    assert sent["model"] == "GigaChat-2-Max", "the alias maps to its GigaChat model"
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief.\n\nAnswer in Russian."},
        {"role": "user", "content": "Привет\nмир"},
    ]
    assert sent["max_tokens"] == 50 and sent["temperature"] == 0.3 and sent["stream"] is False
    assert reply.object == "chat.completion" and reply.id.startswith("chatcmpl-")
    assert reply.choices[0].message.content == "Echo: Привет\nмир"
    assert reply.choices[0].finish_reason == "stop"
    usage = fake_api.state.chat_requests[-1].usage
    assert reply.usage.prompt_tokens == usage["prompt_tokens"]
    assert reply.usage.completion_tokens == usage["completion_tokens"]
    assert reply.usage.prompt_tokens_details.cached_tokens == usage["precached_prompt_tokens"]
    assert reply.model.startswith("GigaChat-2-Max")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_chat_stream_with_usage(front: Any, fake_api: FakeGigaChat, transport: str) -> None:
    fake_api.configure(chunks=5)
    f = front()
    stream = f.client(transport).chat.completions.create(
        model="GigaChat", messages=[{"role": "user", "content": "Расскажи"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: Расскажи"
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == fake_api.state.chat_requests[-1].usage["total_tokens"]
    assert fake_api.state.chat_requests[-1].json["stream"] is True
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 3, "the reply arrives in pieces, as it streams"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_async_client(front: Any, transport: str) -> None:
    import asyncio

    f = front()

    async def run() -> tuple[str, str]:
        client = f.async_client(transport)
        whole = await client.chat.completions.create(model="GigaChat", messages=[{"role": "user", "content": "раз"}])
        stream = await client.chat.completions.create(model="GigaChat", messages=[{"role": "user", "content": "два"}], stream=True)
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        await client.close()
        return whole.choices[0].message.content, "".join(parts)

    assert asyncio.run(run()) == ("Echo: раз", "Echo: два")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_embeddings_float_and_base64(front: Any, fake_api: FakeGigaChat, transport: str) -> None:
    fake_api.configure(embedding_dim=8)
    f = front()
    client = f.client(transport)
    floats = client.embeddings.create(model="text-embedding-3-small", input=["один", "два"], encoding_format="float")
    assert fake_api.state.requests_to("/embeddings")[-1].json == {"model": "Embeddings", "input": ["один", "два"]}
    assert [d.index for d in floats.data] == [0, 1] and len(floats.data[0].embedding) == 8
    assert floats.usage.prompt_tokens > 0
    # The package's default is base64; the vectors must match to float32 precision.
    b64 = client.embeddings.create(model="Embeddings", input="один")
    assert len(b64.data) == 1
    assert b64.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    raw = f.raw().post("/v1/embeddings", json={"model": "Embeddings", "input": "один", "encoding_format": "base64"}).json()
    decoded = struct.unpack("<8f", base64.b64decode(raw["data"][0]["embedding"]))
    assert list(decoded) == pytest.approx(floats.data[0].embedding, abs=1e-6)
    with pytest.raises(openai.BadRequestError) as info:
        client.embeddings.create(model="Embeddings", input=[[1, 2, 3]])
    assert info.value.param == "input"


# --------------------------------------------------------------------------------------------------
# Tools and structured output


def test_tool_call_round_trip_with_two_parallel_calls(front: Any, fake_api: FakeGigaChat) -> None:
    """Requests with tools go to GigaChat's v2 contract, where one reply may hold several calls."""
    f = front()
    client = f.client()
    messages: list[Any] = [{"role": "user", "content": "Погода и время в Москве?"}]
    first = client.chat.completions.create(model="GigaChat", messages=messages, tools=[WEATHER, TIME])
    sent = fake_api.state.v2_chat_requests[-1].json
    assert sent["tool_config"] == {"mode": "auto"}, "OpenAI's default with tools is auto; GigaChat's is none"
    assert [fn["name"] for fn in sent["tools"][0]["functions"]["specifications"]] == ["weather", "local_time"]
    assert sent["messages"] == [{"role": "user", "content": [{"text": "Погода и время в Москве?"}]}]
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    weather, clock = choice.message.tool_calls
    assert (weather.function.name, clock.function.name) == ("weather", "local_time")
    assert json.loads(weather.function.arguments) == json.loads(clock.function.arguments) == {"city": "A-1024"}
    state_id = weather.id.removeprefix("call_")
    assert clock.id == f"call_{state_id}_1", "one id per call, each carrying the reply's tools_state_id"

    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": clock.id, "content": "12:00"},
        {"role": "tool", "tool_call_id": weather.id, "content": '{"t": -3}'},
    ]
    second = client.chat.completions.create(model="GigaChat", messages=messages, tools=[WEATHER, TIME])
    sent = fake_api.state.v2_chat_requests[-1].json
    assert sent["messages"][1] == {
        "role": "assistant", "tools_state_id": state_id, "content": [
            {"function_call": {"name": "weather", "arguments": {"city": "A-1024"}}},
            {"function_call": {"name": "local_time", "arguments": {"city": "A-1024"}}},
        ],
    }, "both calls go back in one message with the state id recovered from their ids"
    assert sent["messages"][2:] == [
        {"role": "tool", "content": [{"function_result": {"name": "weather", "result": {"t": -3}}}]},
        {"role": "tool", "content": [{"function_result": {"name": "local_time", "result": "12:00"}}]},
    ]
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == 'Function weather returned: {"t":-3}; Function local_time returned: "12:00"'


def test_two_parallel_calls_stream_as_openai_deltas(front: Any) -> None:
    import asyncio

    f = front()

    async def run() -> tuple[list[Any], Any]:
        http = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=str(f.sock)))
        client = openai.AsyncOpenAI(base_url="http://gigachatd/v1", api_key="unused", http_client=http, max_retries=0)
        try:
            async with client.chat.completions.stream(
                model="GigaChat", messages=[{"role": "user", "content": "Погода и время?"}], tools=[WEATHER, TIME],
            ) as stream:
                deltas = [tc async for event in stream if event.type == "chunk" and event.chunk.choices
                          for tc in (event.chunk.choices[0].delta.tool_calls or [])]
                return deltas, await stream.get_final_completion()
        finally:
            await http.aclose()

    deltas, final = asyncio.run(run())
    assert [(d.index, d.function.name) for d in deltas] == [(0, "weather"), (1, "local_time")]
    calls = final.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["weather", "local_time"] and calls[0].id != calls[1].id
    assert final.choices[0].finish_reason == "tool_calls"


def test_streamed_tool_call(front: Any, fake_api: FakeGigaChat) -> None:
    f = front()
    chunks = list(f.client("tcp").chat.completions.create(
        model="GigaChat", messages=[{"role": "user", "content": "погода?"}], tools=[WEATHER, TIME], stream=True,
        tool_choice={"type": "function", "function": {"name": "weather"}},
    ))
    assert fake_api.state.v2_chat_requests[-1].json["tool_config"] == {"mode": "forced", "function_name": "weather"}
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(deltas) == 1
    assert deltas[0].index == 0 and deltas[0].id.startswith("call_") and deltas[0].function.name == "weather"
    assert json.loads(deltas[0].function.arguments) == {"city": "A-1024"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_calls_made_elsewhere_are_sent_one_after_another(front: Any, fake_api: FakeGigaChat) -> None:
    """Calls whose ids GigaChat did not make (another model, or by hand) carry no state id, so nothing
    says they were one reply: each goes back as its own call followed by its result."""
    f = front()
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Москва"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "local_time", "arguments": '{"city":"Москва"}'}},
    ]
    reply = f.client().chat.completions.create(model="GigaChat", tools=[WEATHER, TIME], messages=[
        {"role": "user", "content": "Погода и время в Москве?"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_b", "content": "12:00"},
        {"role": "tool", "tool_call_id": "call_a", "content": '{"t": -3}'},
    ])
    sent = fake_api.state.v2_chat_requests[-1].json["messages"]
    def names(m: dict[str, Any]) -> list[str]:
        return [p.get("function_call", p.get("function_result", {})).get("name") for p in m["content"]]
    assert [(m["role"], names(m)) for m in sent[1:]] == [
        ("assistant", ["weather"]), ("tool", ["weather"]), ("assistant", ["local_time"]), ("tool", ["local_time"]),
    ]
    assert "tools_state_id" not in sent[1]
    assert sent[4]["content"][0]["function_result"]["result"] == "12:00", "plain text results are sent as JSON strings"
    assert reply.choices[0].message.content.startswith("Function local_time returned")


def test_tool_choice(front: Any, fake_api: FakeGigaChat) -> None:
    f = front()
    client = f.client()
    ask = [{"role": "user", "content": "погода?"}]
    client.chat.completions.create(model="GigaChat", messages=ask, tools=[WEATHER], tool_choice="required")
    assert fake_api.state.v2_chat_requests[-1].json["tool_config"] == {"mode": "forced", "function_name": "weather"}
    reply = client.chat.completions.create(model="GigaChat", messages=ask, tools=[WEATHER, TIME], tool_choice="none")
    assert fake_api.state.v2_chat_requests[-1].json["tool_config"] == {"mode": "none"}
    assert reply.choices[0].message.tool_calls is None and reply.choices[0].finish_reason == "stop"
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="GigaChat", messages=ask, tools=[WEATHER, TIME], tool_choice="required")
    assert info.value.param == "tool_choice" and "exactly one tool" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="GigaChat", messages=ask, tools=[{"type": "web_search"}])
    assert info.value.param == "tools"


def test_structured_output(front: Any, fake_api: FakeGigaChat) -> None:
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int

    f = front()
    fake_api.inject("chat", "none", reply='{"name": "Москва", "population": 13000000}')
    parsed = f.client().chat.completions.parse(
        model="GigaChat", messages=[{"role": "user", "content": "Столица России?"}], response_format=City,
    )
    assert parsed.choices[0].message.parsed == City(name="Москва", population=13000000)
    sent = fake_api.state.chat_requests[-1].json["response_format"]
    assert sent["type"] == "json_schema" and sent["strict"] is True
    assert sent["schema"]["properties"]["population"]["type"] == "integer"

    fake_api.inject("chat", "none", reply='{"ok": true}')
    whole = f.client().chat.completions.create(
        model="GigaChat", messages=[{"role": "user", "content": "JSON please"}], response_format={"type": "json_object"},
    )
    assert json.loads(whole.choices[0].message.content) == {"ok": True}
    assert fake_api.state.chat_requests[-1].json["response_format"] == {"type": "json_schema", "schema": {"type": "object"}}


def test_stop_sequences(front: Any, fake_api: FakeGigaChat) -> None:
    f = front()
    client = f.client()
    fake_api.inject("chat", "none", reply_chunks=["one two ", "thr", "ee four"])
    whole = client.chat.completions.create(model="GigaChat", messages=[{"role": "user", "content": "count"}], stop=["three"])
    assert whole.choices[0].message.content == "one two " and whole.choices[0].finish_reason == "stop"
    fake_api.inject("chat", "none", reply_chunks=["one two ", "thr", "ee four"])
    chunks = list(client.chat.completions.create(
        model="GigaChat", messages=[{"role": "user", "content": "count"}], stop="three", stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two "
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_images_are_uploaded_once(front: Any, fake_api: FakeGigaChat) -> None:
    f = front()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"pixels" * 10).decode()
    content = [{"type": "text", "text": "Что на картинке?"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]
    for _ in range(2):
        f.client().chat.completions.create(model="GigaChat", messages=[{"role": "user", "content": content}])
    uploads = [r for r in fake_api.state.requests_to("/files") if r.method == "POST"]
    assert len(uploads) == 1, "the same image is uploaded once"
    (file_id,) = fake_api.state.files
    assert fake_api.state.files[file_id]["data"] == base64.b64decode(png)
    assert fake_api.state.chat_requests[-1].json["messages"][0]["attachments"] == [file_id]
    with pytest.raises(openai.BadRequestError) as info:
        f.client().chat.completions.create(model="GigaChat", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}])
    assert "data: URLs" in info.value.message


def test_a_request_with_tools_keeps_its_images_and_options_on_v2(front: Any, fake_api: FakeGigaChat) -> None:
    """Tools send the request to v2: the image goes as a files part, the sampling options and the
    structured-output schema under model_options, and a stream still ends with the usage chunk."""
    f = front()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"v2" * 10).decode()
    content = [{"type": "text", "text": "Что на картинке?"}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}}]
    chunks = list(f.client().chat.completions.create(
        model="GigaChat", messages=[{"role": "user", "content": content}], tools=[WEATHER], tool_choice="none",
        temperature=0.3, max_tokens=50, stream=True, stream_options={"include_usage": True},
    ))
    (file_id,) = fake_api.state.files
    sent = fake_api.state.v2_chat_requests[-1].json
    assert sent["messages"][0]["content"] == [{"text": "Что на картинке?"}, {"files": [{"id": file_id}]}]
    assert sent["model_options"] == {"temperature": 0.3, "max_tokens": 50}
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("Echo: ")
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1 and usage[0].total_tokens == usage[0].prompt_tokens + usage[0].completion_tokens > 0


def test_unsupported_parameters_are_refused(front: Any, fake_api: FakeGigaChat) -> None:
    f = front()
    client = f.client()
    ask = [{"role": "user", "content": "hi"}]
    for params, param in [({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"presence_penalty": 0.5}, "presence_penalty"),
                          ({"logit_bias": {"1": 1}}, "logit_bias"), ({"modalities": ["text", "audio"]}, "modalities")]:
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="GigaChat", messages=ask, **params)
        assert info.value.param == param and info.value.code == "unsupported_parameter", params
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="GigaChat", messages=[])
    assert fake_api.state.chat_requests == [], "nothing refused reached GigaChat"


# --------------------------------------------------------------------------------------------------
# Errors


def test_tcp_needs_the_local_key(front: Any) -> None:
    f = front()
    key_stat = f.key_file.stat()
    assert stat.S_IMODE(key_stat.st_mode) == 0o600 and key_stat.st_uid == os.getuid()
    assert f.key.startswith("gcd-") and len(f.key) > 40
    with pytest.raises(openai.AuthenticationError) as info:
        f.client("tcp", api_key="wrong").models.list()
    assert info.value.code == "invalid_api_key"
    no_key = httpx.get(f"{f.tcp_base}/models", timeout=10)
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "invalid_api_key"
    gigachat_path = httpx.get(f"http://127.0.0.1:{f.port}/api/v1/models", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert gigachat_path.status_code == 401 and gigachat_path.json()["status"] == 401
    assert len(f.client("tcp").models.list().data) > 0
    # The Unix socket needs no key.
    assert f.raw().get("/v1/models").status_code == 200


def test_gigachatctl_prints_the_local_key(front: Any, run_ctl: Any) -> None:
    r = run_ctl("http-key")
    assert r.returncode == 1 and "GIGACHATD_HTTP_LISTEN" in r.stderr, r  # no TCP listener yet: no key
    f = front()
    r = run_ctl("http-key")
    assert r.returncode == 0 and r.stdout == f.key + "\n", r
    assert len(f.client("tcp", api_key=r.stdout.strip()).models.list().data) > 0


def test_the_key_survives_a_restart(front: Any) -> None:
    f = front()
    key = f.key
    f.d.stop()
    g = front()
    assert g.key == key


def test_http_listen_must_be_loopback(daemon: DaemonFactory) -> None:
    d = daemon(env={"GIGACHATD_HTTP_LISTEN": "0.0.0.0:8080"}, wait=False)
    assert d.wait_exit(10) != 0
    assert "not a loopback address" in d.stderr()


def test_error_classes(front: Any, fake_api: FakeGigaChat) -> None:
    f = front(env={"GIGACHAT_MAX_RETRIES": "1", "GIGACHATD_MAX_RETRY_AFTER": "1"})
    client = f.client()
    ask = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-3.5-turbo", messages=ask)
    assert info.value.code == "model_not_found" and "GigaChat-2-Max" in info.value.message and "GIGACHATD_OPENAI_MODEL_ALIASES" in info.value.message

    fake_api.inject("chat", "rate_limit", times=2, retry_after=0)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="GigaChat", messages=ask)
    assert info.value.code == "rate_limit_exceeded"
    assert len(fake_api.state.chat_requests) == 3, "the daemon retried before giving up"
    assert time.monotonic() - started < 10

    fake_api.inject("chat", "status", status=402, message="Payment Required")
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="GigaChat", messages=ask)
    assert info.value.status_code == 402 and info.value.code == "insufficient_quota"

    fake_api.inject("chat", "status", status=422, message="Invalid params: something")
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="GigaChat", messages=ask)
    assert "Invalid params" in info.value.message

    fake_api.inject("chat", "html", status=502, times=2)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="GigaChat", messages=ask)
    assert info.value.status_code == 502 and "Bad Gateway" in info.value.message


def test_failure_mid_stream_raises(front: Any, fake_api: FakeGigaChat) -> None:
    fake_api.configure(chunks=6)
    f = front()
    fake_api.inject("chat", "reset_after", chunks=2)
    got = []
    with pytest.raises(openai.APIError) as info:
        for chunk in f.client().chat.completions.create(model="GigaChat", messages=[{"role": "user", "content": "длинный ответ"}], stream=True):
            if chunk.choices:
                got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) and "broke off" in str(info.value)


# --------------------------------------------------------------------------------------------------
# The wire, disconnects, other users


def test_curl_on_the_unix_socket(front: Any) -> None:
    f = front()
    body = json.dumps({"model": "GigaChat", "messages": [{"role": "user", "content": "curl"}], "stream": True})
    out = subprocess.run(
        ["curl", "-sN", "--unix-socket", str(f.sock), "http://localhost/v1/chat/completions",
         "-H", "Content-Type: application/json", "-d", body],
        capture_output=True, timeout=20, check=True,
    ).stdout.decode()
    events = [line[len("data: "):] for line in out.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1] if json.loads(e)["choices"]) == "Echo: curl"
    big = json.dumps({"model": "GigaChat", "messages": [{"role": "user", "content": "x" * 5000}]})
    head = subprocess.run(
        ["curl", "-si", "--unix-socket", str(f.sock), "http://localhost/v1/chat/completions", "-H", "Expect: 100-continue", "-d", big],
        capture_output=True, timeout=20, check=True,
    ).stdout.decode()
    assert head.startswith("HTTP/1.1 100 Continue") and "HTTP/1.1 200 OK" in head, "curl's Expect: 100-continue is answered"


def test_a_client_that_leaves_aborts_the_upstream_transfer(front: Any, fake_api: FakeGigaChat) -> None:
    fake_api.configure(chunks=40, chunk_interval=0.1)
    f = front()
    with f.raw().stream("POST", "/v1/chat/completions", json={
        "model": "GigaChat", "stream": True, "messages": [{"role": "user", "content": "a long story " * 5}]}) as response:
        lines = response.iter_lines()
        while "content" not in next(lines):
            pass
    assert fake_api.wait_for(lambda s: len(s.disconnects) >= 1, timeout=5), "the upstream transfer was not aborted"
    assert fake_api.state.chat_requests[-1].events_sent < 40
    # The slot is free again: the next request is answered at once.
    assert f.client().chat.completions.create(model="GigaChat", messages=[{"role": "user", "content": "next"}]).choices


def test_unknown_paths_and_methods(front: Any) -> None:
    f = front()
    http = f.raw()
    assert http.get("/v1/completions").status_code == 404
    assert http.get("/v1/chat/completions").status_code == 405
    bad = http.post("/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    # Tools that append paths to a base URL without /v1 work too.
    assert http.get("/models").status_code == 200


def test_body_over_the_cap_is_refused(front: Any) -> None:
    f = front(env={"GIGACHATD_MAX_LINE_BYTES": "2048"})
    response = f.raw().post("/v1/chat/completions", json={"model": "GigaChat", "messages": [{"role": "user", "content": "x" * 4000}]})
    assert response.status_code == 413


def test_status_counts_http_requests(front: Any) -> None:
    f = front()
    f.client().models.list()
    f.client().chat.completions.create(model="GigaChat", messages=[{"role": "user", "content": "hi"}])
    with f.d.connect() as conn:
        _, final = conn.call("status")
    assert final["result"]["requests"]["served"] >= 2


def test_drain_lets_a_running_stream_finish(front: Any, fake_api: FakeGigaChat) -> None:
    fake_api.configure(chunks=10, chunk_interval=0.1)
    f = front()
    client = f.client()
    stream = client.chat.completions.create(model="GigaChat", messages=[{"role": "user", "content": "drain"}], stream=True)
    first = next(iter(stream))
    f.d.signal(signal.SIGTERM)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert first.choices[0].delta.role == "assistant" and text == "Echo: drain"
    assert f.d.wait_exit(10) == 0
    assert not f.sock.exists(), "the HTTP socket is removed on exit"


needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="acting as another uid needs root and setpriv")

@needs_root
def test_another_uid_is_refused_on_the_http_socket(front: Any) -> None:
    f = front()
    open_doors(f.sock)
    result = as_nobody(
        "python3", "-c", PEER_CLIENT, str(f.sock), "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert out.startswith("HTTP/1.1 403"), out
    assert "access denied" in out and "GigaChat-2-Max" not in out
    assert "refused an HTTP connection from another user" in f.d.stderr()
    assert f.raw().get("/v1/models").status_code == 200


# --------------------------------------------------------------------------------------------------
# LangChain


def test_langchain_chat_openai(front: Any, fake_api: FakeGigaChat) -> None:
    from langchain_openai import ChatOpenAI, OpenAIEmbeddings
    from pydantic import BaseModel

    f = front()
    http = httpx.Client(transport=httpx.HTTPTransport(uds=str(f.sock)))
    llm = ChatOpenAI(model="gpt-4o", base_url="http://gigachatd/v1", api_key="unused", http_client=http, max_retries=0)
    assert llm.invoke("Привет").content == "Echo: Привет"
    assert "".join(chunk.content for chunk in llm.stream("поток")) == "Echo: поток"

    def weather(city: str) -> str:
        """Weather in a city."""
        return "-3"

    message = llm.bind_tools([weather]).invoke("Какая погода в Москве?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("weather", {"city": "A-1024"})]

    class City(BaseModel):
        name: str
        population: int

    fake_api.inject("chat", "none", reply='{"name": "Москва", "population": 13000000}')
    assert llm.with_structured_output(City).invoke("Столица России?") == City(name="Москва", population=13000000)
    assert fake_api.state.chat_requests[-1].json["response_format"]["type"] == "json_schema"

    # The function-calling flavour forces the one function.
    fake_api.inject("v2", "none", arguments={"name": "Москва", "population": 13000000})
    city = llm.with_structured_output(City, method="function_calling").invoke("Столица России?")
    assert city == City(name="Москва", population=13000000)
    assert fake_api.state.v2_chat_requests[-1].json["tool_config"] == {"mode": "forced", "function_name": "City"}

    tcp = ChatOpenAI(model="GigaChat", base_url=f.tcp_base, api_key=f.key, max_retries=0)
    assert tcp.invoke("по TCP").content == "Echo: по TCP"

    embeddings = OpenAIEmbeddings(model="text-embedding-3-small", base_url="http://gigachatd/v1", api_key="unused",
                                  http_client=http, check_embedding_ctx_length=False)
    assert len(embeddings.embed_query("вектор")) == fake_api.settings.embedding_dim
    http.close()


# --------------------------------------------------------------------------------------------------
# GigaChat's own API through the daemon


def test_gigachat_paths_are_forwarded_with_the_daemons_token(front: Any, fake_api: FakeGigaChat) -> None:
    f = front()
    http = f.raw()
    models = http.get("/api/v1/models", headers={"Authorization": "Bearer whatever-the-sdk-sends"})
    assert models.status_code == 200 and models.json()["data"][0]["id"] == "GigaChat"
    recorded = fake_api.state.requests_to("/models")[-1]
    assert recorded.token in fake_api.state.issued_tokens, "the daemon's own token went upstream, not the caller's"
    chat = http.post("/api/v1/chat/completions", json={"model": "GigaChat", "messages": [{"role": "user", "content": "напрямую"}]})
    assert chat.json()["choices"][0]["message"]["content"] == "Echo: напрямую"
    with http.stream("POST", "/api/v1/chat/completions", json={
            "model": "GigaChat", "stream": True, "messages": [{"role": "user", "content": "поток"}]}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(stream.iter_bytes())
    assert raw.rstrip().endswith(b"data: [DONE]") and b'"object":"chat.completion"' in raw
    missing = http.get("/api/v1/models/NoSuchModel")
    assert missing.status_code == 404 and missing.json() == {"status": 404, "message": "GigaChat API error: No such model"}
    assert http.post("/api/v1/token").status_code == 404, "password auth is the daemon's business"
    assert http.post("/api/v2/oauth").status_code == 404


def test_official_gigachat_sdk(front: Any, fake_api: FakeGigaChat, tmp_path: Path) -> None:
    from gigachat import GigaChat

    f = front()
    giga = GigaChat(base_url=f"http://127.0.0.1:{f.port}/api/v1", access_token=f.key, model="GigaChat", timeout=20, max_retries=0)
    assert giga.chat("Привет").choices[0].message.content == "Echo: Привет"
    assert "".join(c.choices[0].delta.content for c in giga.stream("Поток")) == "Echo: Поток"
    assert len(giga.embeddings(["раз", "два"]).data) == 2
    upload = tmp_path / "note.txt"
    upload.write_text("заметка")
    with upload.open("rb") as handle:
        uploaded = giga.upload_file(handle)
    assert fake_api.state.files[uploaded.id_]["data"] == "заметка".encode()
    assert uploaded.id_ in [file.id_ for file in giga.get_files().data]
    # The v2 chat contract, as the SDK's chat.create / chat.stream use it.
    v2 = giga.chat.create({"messages": [{"role": "user", "content": [{"text": "v2"}]}]})
    assert v2.messages[0].content[0].text == "Echo: v2"
    parts = [c.messages[0].content[0].text for c in giga.chat.stream({"messages": [{"role": "user", "content": [{"text": "v2 поток"}]}]}) if c.messages]
    assert "".join(parts) == "Echo: v2 поток"
    assert fake_api.state.v2_chat_requests[-1].token in fake_api.state.issued_tokens
    giga.close()
    # A wrong local key is refused before anything goes upstream.
    bad = GigaChat(base_url=f"http://127.0.0.1:{f.port}/api/v1", access_token="wrong", model="GigaChat", timeout=20, max_retries=0)
    before = len(fake_api.state.chat_requests)
    with pytest.raises(Exception) as info:
        bad.chat("нельзя")
    assert "401" in str(info.value) and len(fake_api.state.chat_requests) == before


def test_langchain_gigachat(front: Any) -> None:
    from langchain_gigachat import GigaChat

    f = front()
    llm = GigaChat(base_url=f"http://127.0.0.1:{f.port}/api/v1", access_token=f.key, model="GigaChat", timeout=20)
    assert llm.invoke("langchain-gigachat").content == "Echo: langchain-gigachat"
    assert "".join(c.content for c in llm.stream("поток")) == "Echo: поток"


# --------------------------------------------------------------------------------------------------
# Socket activation


SSA = shutil.which("systemd-socket-activate")


@pytest.mark.skipif(SSA is None, reason="systemd-socket-activate is not installed")
def test_socket_activation_passes_the_http_socket(gigachatd_bin: Path, testenv: Any, fake_api: FakeGigaChat, pki: Any) -> None:
    """As gigachatd.socket does: both sockets passed under one FileDescriptorName; the first HTTP
    connection starts the daemon, which tells the HTTP socket by its file name."""
    rpc = testenv.default_socket
    http_sock = rpc.parent / "openai.sock"
    rpc.parent.mkdir(mode=0o700, exist_ok=True)
    env = testenv.base()
    env.update({
        "GIGACHAT_AUTH_URL": fake_api.auth_url, "GIGACHAT_BASE_URL": fake_api.base_url, "GIGACHAT_CA_BUNDLE_FILE": str(pki.ca_cert),
        "GIGACHAT_SCOPE": fake_api.settings.scope, "GIGACHAT_CREDENTIALS": fake_api.settings.key, "GIGACHAT_TIMEOUT": "5",
    })
    argv = [SSA, "-l", str(rpc), "-l", str(http_sock), "--fdname=gigachatd:gigachatd"]
    for name in sorted(env):
        argv += ["-E", name]
    argv += [str(gigachatd_bin), "--log-level", "debug"]
    d = Daemon(gigachatd_bin, testenv, env, rpc, fake=fake_api)
    d.argv = argv
    d.start()
    try:
        assert wait_until(http_sock.exists, 10), "systemd-socket-activate did not listen"
        inode = http_sock.stat().st_ino
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(http_sock)), base_url="http://gigachatd", timeout=20) as http:
            reply = http.post("/v1/chat/completions", json={"model": "GigaChat", "messages": [{"role": "user", "content": "разбуди"}]})
        assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"] == "Echo: разбуди"
        with d.connect() as conn:
            _, final = conn.call("status")
        assert "result" in final
        assert d.stop() == 0
        assert http_sock.exists() and http_sock.stat().st_ino == inode, "a passed socket belongs to the socket unit and stays"
    finally:
        d.stop()


# --------------------------------------------------------------------------------------------------
# docs/OPENAI.md: every shell and Python example runs


DOCS = Path(__file__).resolve().parents[2] / "docs" / "OPENAI.md"


def doc_examples() -> list[tuple[str, str]]:
    """(language, code) of every ```sh and ```python block of docs/OPENAI.md, in order."""
    blocks, language, lines = [], None, []
    for line in DOCS.read_text().splitlines():
        if language is None and line.startswith("```") and line[3:].strip() in ("sh", "python"):
            language, lines = line[3:].strip(), []
        elif language is not None and line.startswith("```"):
            blocks.append((language, "\n".join(lines) + "\n"))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def test_docs_have_examples() -> None:
    examples = doc_examples()
    assert len(examples) >= 7 and {language for language, _ in examples} == {"sh", "python"}


@pytest.mark.parametrize("index", range(len(doc_examples())))
def test_docs_example_runs(front: Any, testenv: Any, tmp_path: Path, index: int) -> None:
    language, code = doc_examples()[index]
    # The examples say 127.0.0.1:8080, as the settings shown beside them do; this daemon has a free port.
    f = front()
    code = code.replace("127.0.0.1:8080", f"127.0.0.1:{f.port}")
    argv = ["bash", "-euo", "pipefail", "-c", code] if language == "sh" else ["python3", "-c", code]
    result = subprocess.run(argv, env=testenv.base(), capture_output=True, text=True, timeout=50, cwd=tmp_path)
    assert result.returncode == 0, f"example {index} ({language}) failed:\n{code}\n--- stderr ---\n{result.stderr}"
    assert "Echo:" in result.stdout or '"GigaChat"' in result.stdout or "[" in result.stdout, result.stdout


def test_sighup_rereads_the_aliases(front: Any, testenv: Any) -> None:
    conf = testenv.config / "gigachat" / "gigachatd.conf"
    conf.parent.mkdir(mode=0o700, exist_ok=True)
    conf.write_text('GIGACHATD_OPENAI_MODEL_ALIASES={"old-name":"GigaChat"}\n')
    conf.chmod(0o600)
    f = front(env={"GIGACHATD_OPENAI_MODEL_ALIASES": None})
    client = f.client()
    assert client.models.retrieve("old-name").id == "old-name"
    conf.write_text('GIGACHATD_OPENAI_MODEL_ALIASES={"new-name":"GigaChat-2"}\n')
    f.d.signal(signal.SIGHUP)
    assert wait_until(lambda: "configuration reloaded" in f.d.stderr(), 10), f.d.diagnostics()
    assert client.models.retrieve("new-name").owned_by.endswith("GigaChat-2")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("old-name")
    # A bad value refuses the reload and keeps the aliases that work.
    conf.write_text("GIGACHATD_OPENAI_MODEL_ALIASES=[1]\n")
    f.d.signal(signal.SIGHUP)
    assert wait_until(lambda: "reload failed" in f.d.stderr(), 10), f.d.diagnostics()
    assert client.models.retrieve("new-name").id == "new-name"


def test_bodies_held_at_once_are_capped(front: Any, fake_api: FakeGigaChat) -> None:
    fake_api.configure(first_byte_delay=1.5)
    f = front(env={"GIGACHATD_MAX_PENDING_BYTES": str(1 << 20), "GIGACHATD_MAX_LINE_BYTES": str(1 << 20)})
    big = {"model": "GigaChat", "messages": [{"role": "user", "content": "x" * 700_000}]}
    results: list[int] = []

    def one() -> None:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(f.sock)), base_url="http://gigachatd", timeout=20) as http:
            results.append(http.post("/v1/chat/completions", json=big).status_code)

    first = threading.Thread(target=one)
    first.start()
    assert wait_until(lambda: len(fake_api.state.chat_requests) == 1, 5)
    one()  # while the first one's body is held
    first.join()
    assert sorted(results) == [200, 429]
    one()  # released again once the first was answered
    assert results[-1] == 200
