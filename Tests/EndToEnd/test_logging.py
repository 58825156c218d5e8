"""Every log line about a request carries its id, however deep in the upstream layer it is written.

The 401-refresh, retry and connection-failure lines come from the API client, below the daemon's
dispatch; they used to carry nothing that tied them to the request that caused them.
"""

from __future__ import annotations

import re

from fake_gigachat import FakeGigaChat
from harness import DaemonFactory, chat_params


def _lines_with(stderr: str, needle: str) -> list[str]:
    return [line for line in stderr.splitlines() if needle in line]


def test_upstream_lines_about_a_request_carry_its_id(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(log_level="debug", env={"GIGACHAT_RETRY_BACKOFF_FACTOR": "0.05"})
    with d.connect() as conn:
        assert conn.chat("прогрев", stream=False).ok  # the token is fetched outside any request
        fake_api.inject("chat", "unauthorized", times=1)
        fake_api.inject("chat", "status", status=503, times=1)
        conn.request("chat", chat_params("с приключениями", stream=False), id="req-42")
        out = conn.collect("req-42")
        assert out.ok, out.final
    stderr = d.stderr()
    refresh = _lines_with(stderr, "API answered 401")
    retry = _lines_with(stderr, "API answered 503; retrying")
    assert refresh and retry, stderr[-3000:]
    for line in refresh + retry:
        assert re.search(r"request_id=\"?req-42\"?(\s|$)", line), line


def test_a_connection_failure_line_names_its_request(fake_api: FakeGigaChat, daemon: DaemonFactory) -> None:
    d = daemon(log_level="debug", env={"GIGACHAT_RETRY_BACKOFF_FACTOR": "0.05"})
    with d.connect() as conn:
        assert conn.chat("прогрев", stream=False).ok
        # Two: libcurl itself retries once on a kept-alive connection that the server closed.
        fake_api.inject("chat", "reset", times=2)
        conn.request("chat", chat_params("через сброс", stream=False), id=7)
        assert conn.collect(7).ok
    failures = _lines_with(d.stderr(), "API connection failed; retrying")
    assert failures, d.stderr()[-3000:]
    assert all(re.search(r"request_id=7(\s|$)", line) for line in failures), failures
