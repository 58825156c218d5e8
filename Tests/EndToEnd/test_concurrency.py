"""Upstream concurrency: a personal key may run one request at a time, business keys ten; the daemon
queues the rest (fair FIFO) instead of earning 429s.
"""

from __future__ import annotations

import time

from fake_gigachat import FakeGigaChat
from harness import DaemonFactory, chat_params, run_parallel


def test_personal_scope_never_runs_two_chats_at_once(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    # Like the real API, the fake answers 429 to a second concurrent chat on this key.
    fake_api.configure(chunks=4, chunk_interval=0.05, concurrency_limit=1)
    d = daemon()  # GIGACHAT_SCOPE=GIGACHAT_API_PERS
    outs = run_parallel(lambda i: d.chat(f"клиент {i}", timeout=20), 5)
    for i, out in enumerate(outs):
        assert out.ok, out.final
        assert out.content == out.delta_text == f"Echo: клиент {i}"
    assert fake_api.state.chat_max_in_flight == 1
    assert len(fake_api.state.chat_requests) == 5, "no request was refused and retried"


def test_business_scope_runs_chats_in_parallel(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.configure(scope="GIGACHAT_API_B2B", chunks=4, chunk_interval=0.1)
    d = daemon(scope="GIGACHAT_API_B2B")
    outs = run_parallel(lambda i: d.chat(f"клиент {i}", timeout=20), 5)
    assert all(o.ok for o in outs), [o.final for o in outs if not o.ok]
    assert fake_api.state.chat_max_in_flight >= 3, "a B2B key allows 10 at once; five clients should overlap"


def test_max_connections_caps_parallel_chats(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.configure(scope="GIGACHAT_API_B2B", chunks=4, chunk_interval=0.1)
    d = daemon(scope="GIGACHAT_API_B2B", env={"GIGACHAT_MAX_CONNECTIONS": "2"})
    outs = run_parallel(lambda i: d.chat(f"клиент {i}", timeout=20), 5)
    assert all(o.ok for o in outs), [o.final for o in outs if not o.ok]
    assert fake_api.state.chat_max_in_flight == 2


def test_a_queued_request_whose_client_leaves_never_reaches_the_api(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    fake_api.configure(chunks=4, chunk_interval=0.2)  # each chat holds the single slot ~0.8 s
    d = daemon()
    first = d.connect()
    first.request("chat", chat_params("первый"), id=1)
    assert fake_api.wait_for(lambda st: st.chat_in_flight == 1, timeout=5)

    leaver = d.connect()
    leaver.request("chat", chat_params("ушедший"), id=1)
    time.sleep(0.1)  # it is queued behind "первый"
    leaver.close()

    third = d.connect()
    third.request("chat", chat_params("третий"), id=1)
    assert first.collect(1, timeout=10).ok
    assert third.collect(1, timeout=10).ok
    contents = [r.json["messages"][0]["content"] for r in fake_api.state.chat_requests]
    assert contents == ["первый", "третий"], f"the API saw {contents}"
