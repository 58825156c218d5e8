"""What the fake serves and how it behaves: its paths, the recorded model list, and FakeSettings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

OAUTH_PATH = "/api/v2/oauth"
API_PREFIX = "/api/v1"
CONTROL_PATH = "/_control"
SCOPES = ("GIGACHAT_API_PERS", "GIGACHAT_API_B2B", "GIGACHAT_API_CORP")

# Model list as recorded in January 2026 (reference §9), plus newer names seen in 2026.
MODELS: list[tuple[str, str]] = [
    *((m, "chat") for m in (
        "GigaChat", "GigaChat-2", "GigaChat-2-Pro", "GigaChat-2-Max", "GigaChat-Pro", "GigaChat-Max",
        "GigaChat-Plus", "GigaChat-preview", "GigaChat-2-preview", "GigaChat-2-Pro-preview",
        "GigaChat-2-Max-preview", "GigaChat-Pro-preview", "GigaChat-Max-preview",
        "GigaChat-2-Reasoning", "GigaChat-3-Ultra", "GigaChat-3-Lightning", "GigaChat-3-Pro",
    )),
    *((m, "embedder") for m in ("Embeddings", "Embeddings-2", "EmbeddingsGigaR", "GigaEmbeddings-3B-2025-09")),
    ("GigaCheckClassification", "aicheck"),
    ("GigaCheckDetection", "aicheck"),
    ("GigaFilter", "filter"),
]


@dataclass
class FakeSettings:
    """Behaviour of the fake. Tests may change fields at any time (``fake.settings.x = y``)."""

    key: str = ""  # the authorization key (base64 of client_id:client_secret), sent as Basic <key>
    scope: str = "GIGACHAT_API_PERS"  # the one scope the key is bound to (other scopes: code 7)
    user: Optional[str] = None  # password auth (POST /api/v1/token)
    password: Optional[str] = None
    token_lifetime: float = 1800.0  # seconds; the real API issues 30-minute tokens
    expiry_offset: float = 0.0  # seconds added to the expiry *reported* in issued tokens (expires_at /
    #                             exp) only; the fake still accepts each token for token_lifetime. A
    #                             client whose clock is off, or a token that arrives already expired
    #                             (expiry_offset=-3600), without the API actually refusing it.
    token_format: str = "access_token"  # "access_token" {access_token, expires_at ms} |
    #                                     "tok_ms" {tok, exp ms} | "tok_s" {tok, exp seconds}
    token_length: int = 1200  # real tokens are ~1.2 KB of opaque text
    oauth_delay: float = 0.0  # seconds the OAuth endpoint thinks before answering
    reply: Optional[str] = None  # fixed assistant text; None: "Echo: " + the last user message
    reply_prefix: str = "Echo: "
    chunks: int = 4  # content events per streamed reply (fewer if the text is shorter)
    chunk_interval: float = 0.0  # seconds between streamed events
    first_byte_delay: float = 0.0  # seconds before the response headers of a chat
    sse: str = ""  # default SSE framing flags (see SSE_FLAGS), e.g. "crlf+split"
    usage_on_every_chunk: bool = False  # older thread streams carry usage on every event
    model_version: str = "2.0.28.2"  # the API answers "GigaChat:2.0.28.2" for "GigaChat"
    extra_models: list[str] = field(default_factory=list)  # accepted in addition to MODELS
    concurrency_limit: Optional[int] = None  # like the real API: chats beyond this get 429
    bench: Optional[str] = None  # "N:S[:P]": every chat is a bench stream (see bench.py)
    embedding_dim: int = 1024
    created_at: Optional[int] = None  # fixed `created` / `created_at` of chat answers (None: now), so
    #                                   that two answers to the same request are equal field for field
    image_bytes: int = 42966  # size of a generated image (v2 image_generate); the SDK's image.jpg size
    verbose: bool = False  # one line per request on stderr
