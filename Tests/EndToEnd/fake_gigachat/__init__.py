"""A fake GigaChat API for end-to-end tests and benchmarks (standard library only).

It follows /work/shared/gigachat-api.md (the "reference" below): the OAuth endpoint (§2.1), password
auth (§2.2), the v1 endpoints of §4, chat in both shapes (§5.2 JSON, §6.1 SSE, byte for byte: compact
one-line JSON, ``data: {json}\\n\\n``, the last chunk carrying finish_reason and usage, then
``data: [DONE]\\n\\n``), and the error shapes of §8 (``{status,message}`` on the API,
``{code,message}`` on the OAuth endpoint, HTML pages from the gateway), and the v2 ("primary") chat
of §7 at ``POST /api/v2/chat/completions`` (JSON and named SSE events; the shapes and what they are
taken from are in v2.py).

Two ways to use it:

* in-process (the pytest harness)::

      fake = FakeGigaChat(pki, key="...").start()
      fake.base_url, fake.auth_url, fake.ca_file      # what to give the daemon
      fake.inject("chat", "reset_after", chunks=2)    # one-shot fault for the next chat request
      fake.state.oauth_calls, fake.state.chat_max_in_flight, ...   # read directly by tests
      fake.stop()

* standalone (README demo, benchmark), with Tests/EndToEnd as the working directory or on PYTHONPATH::

      python3 -m fake_gigachat --port 0 --certdir DIR [--ready-file F] [--env-file F]

  It prints GIGACHAT_*=... lines (usable as an EnvironmentFile / ``gigachatd --config``) and takes
  faults and settings through ``POST /_control`` (see ``ControlRoutes._control`` for the JSON).

Everything listens on 127.0.0.1 only. Where the reference has no recording (for example the body of a
401 from the OAuth host) the fake invents something plausible and says so in a comment; tests must not
depend on those invented details.

Where things live:

* server.py: FakeGigaChat (start, stop, addresses, what it will answer), one thread per TLS
  connection, and the handler that reads, records and routes every request;
* control.py: the test controls (configure, inject, revoke_tokens, oauth_down, ...) and ``/_control``;
* settings.py: paths, the model list, FakeSettings; state.py: RecordedRequest, FakeState;
* faults.py: Fault, FAULT_KINDS, SSE_FLAGS, fault_key;
* handler.py: reading a body, writing answers and errors, resets, waits, faults on any endpoint;
* auth.py: OAuth, password tokens, the Bearer check; chat.py: v1 and v2 chat; sse.py: writing a
  stream and its mid-stream faults; bench.py: bench streams; v2.py: the v2 contract as data;
* endpoints.py: models, embeddings, tokens/count, balance, ai/check, functions/convert; files.py: files;
* standalone.py and __main__.py: the fake as a process of its own.
"""

from . import v2
from .auth import make_test_key
from .faults import FAULT_KINDS, SSE_FLAGS, Fault, fault_key
from .server import FakeGigaChat, _HTTPServer
from .settings import API_PREFIX, CONTROL_PATH, MODELS, OAUTH_PATH, FakeSettings
from .sse import parse_sse
from .standalone import main
from .state import FakeState, RecordedRequest
from .v2 import V2_CHAT_PATH, split_text

__all__ = [
    "FakeGigaChat",
    "FakeSettings",
    "FakeState",
    "Fault",
    "RecordedRequest",
    "FAULT_KINDS",
    "SSE_FLAGS",
    "OAUTH_PATH",
    "API_PREFIX",
    "V2_CHAT_PATH",
    "CONTROL_PATH",
    "MODELS",
    "fault_key",
    "make_test_key",
    "main",
    "parse_sse",
    "split_text",
    "v2",
    "_HTTPServer",  # bench/run.py wraps its process_request
]
