"""The authorization key and the access tokens never leave the daemon: not in its logs (even at the
most verbose level), not in any response on the socket, not in gigachatctl's output.

(The daemon fixture also scans every daemon of every test at teardown; this test makes the daemon
work through every path that handles a secret, at trace level, and checks explicitly.)
"""

from __future__ import annotations

import time
from typing import Callable

from fake_gigachat import FakeGigaChat, make_test_key
from harness import CtlResult, DaemonFactory, find_secrets


def test_secrets_never_appear_in_logs_or_responses(
    fake_api: FakeGigaChat, daemon: DaemonFactory, run_ctl: Callable[..., CtlResult]
) -> None:
    fake_api.configure(token_lifetime=2.0)
    d = daemon(log_level="trace", env={"GIGACHAT_TOKEN_EXPIRY_BUFFER_MS": "500", "GIGACHAT_MAX_RETRIES": "0"})

    with d.connect() as conn:
        assert conn.chat("поток").ok
        assert conn.chat("без потока", stream=False).ok
        fake_api.revoke_tokens()  # 401, refresh, retry
        assert conn.chat("после отзыва").ok
        time.sleep(2.2)  # expiry and refresh
        assert conn.chat("после истечения").ok
        fake_api.inject("chat", "status", status=500, message="Internal Server Error", times=-1)
        assert not conn.chat("ошибка").ok
        fake_api.clear_faults()
        conn.send_line(b"not json")
        conn.read_message()
    r = run_ctl("chat", "--json", "из gigachatctl")
    assert r.returncode == 0, r
    assert len(fake_api.state.issued_tokens) >= 3

    # A wrong key is a secret too, and an OAuth refusal must not echo it back.
    wrong = make_test_key()
    bad = daemon(log_level="trace", env={"GIGACHAT_CREDENTIALS": wrong, "GIGACHAT_MAX_RETRIES": "0"},
                 socket=d.testenv.runtime / "bad" / "gigachatd.sock")
    out = bad.chat("с неверным ключом", stream=False, timeout=20)
    assert "error" in out.final, out.final

    for proc in (d, bad):
        proc.stop()
        assert proc.stderr().strip(), "nothing on stderr at trace level: the scan below would prove nothing"
    assert d.leaked_secrets() == []
    assert bad.leaked_secrets() == []
    assert find_secrets({"gigachatctl output": r.stdout_bytes + r.stderr.encode()}, d.secrets()) == []
    assert wrong in bad.secrets()
