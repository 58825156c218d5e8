"""The small API endpoints: models, embeddings, tokens/count, balance, ai/check, functions/convert."""

from __future__ import annotations

import hashlib
import random
from typing import Any, Optional

from . import v2 as fake_v2
from .handler import BaseHandler
from .settings import MODELS
from .state import RecordedRequest


class EndpointRoutes(BaseHandler):
    """The API endpoints other than chat, auth and files."""

    def _list_models(self) -> None:
        self._send_json(200, {"object": "list", "data": [_model(m, t) for m, t in MODELS]})

    def _get_model(self, name: str) -> None:
        types = dict(MODELS)
        if name in types:
            self._send_json(200, _model(name, types[name]))
        else:
            self._send_api_error(404, "No such model")

    def _json_and_model(self, rec: RecordedRequest) -> Optional[tuple[dict[str, Any], str]]:
        """The JSON body and the model it names; None once the error (not JSON, no model) is sent."""
        body = self._require_json(rec)
        if body is None:
            return None
        model = body.get("model")
        if not isinstance(model, str) or not model:
            self._send_api_error(422, "Invalid params: model is required")
            return None
        return body, model

    def _input_texts(self, inputs: Any) -> Optional[list[str]]:
        """`input` as a list of strings (one string is a list of one); None once the 422 is sent."""
        if isinstance(inputs, str):
            return [inputs]
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            self._send_api_error(422, "Invalid params: input must be a list of strings")
            return None
        return inputs

    def _embeddings(self, rec: RecordedRequest) -> None:
        asked = self._json_and_model(rec)
        if asked is None:
            return
        body, model = asked
        inputs = body.get("input")
        if dict(MODELS).get(model) != "embedder":
            self._send_api_error(404, "No such model")
            return
        inputs = self._input_texts(inputs)
        if inputs is None:
            return
        dim = self.fake.settings.embedding_dim
        data = [
            {"object": "embedding", "index": i, "embedding": _vector(model, text, dim), "usage": {"prompt_tokens": fake_v2.tokens(text)}}
            for i, text in enumerate(inputs)
        ]
        self._send_json(200, {"object": "list", "model": model, "data": data})

    def _tokens_count(self, rec: RecordedRequest) -> None:
        body = self._require_json(rec)
        if body is None:
            return
        model, inputs = body.get("model"), body.get("input")
        if not isinstance(model, str) or not self.fake.known_model(model):
            self._send_api_error(404, "No such model")
            return
        inputs = self._input_texts(inputs)
        if inputs is None:
            return
        self._send_json(200, [{"object": "tokens", "tokens": fake_v2.tokens(t), "characters": len(t)} for t in inputs])

    def _balance(self) -> None:
        if self.fake.settings.scope == "GIGACHAT_API_CORP":
            self._send_api_error(403, "Permission denied")  # pay-as-you-go accounts (§4.5)
        else:
            self._send_json(200, {"balance": [
                {"usage": "embeddings", "value": 5000000},
                {"usage": "GigaChat", "value": 900000},
                {"usage": "GigaChat-Pro", "value": 991490},
                {"usage": "GigaChat-Max", "value": 450000},
            ]})

    def _ai_check(self, rec: RecordedRequest) -> None:
        # Request {"input", "model"} (SDK api/tools.py); the model must be an "aicheck" one (recorded
        # model list). Status and message for a missing model are guesses.
        asked = self._json_and_model(rec)
        if asked is None:
            return
        body, model = asked
        text = body.get("input")
        if model not in fake_v2.AI_CHECK_MODELS:
            self._send_api_error(404, "No such model")
        elif not isinstance(text, str):
            self._send_api_error(422, "Invalid params: input must be a string")
        else:
            self._send_json(200, fake_v2.ai_check(text))

    def _functions_convert(self, rec: RecordedRequest) -> None:
        # The SDK posts the OpenAPI document as the raw body, without a Content-Type (api/tools.py).
        converted = fake_v2.convert_functions(rec.body.decode("utf-8", "replace"))
        if converted is None:
            self._send_api_error(422, "Invalid params: no operations found in the OpenAPI document")  # guess
        else:
            self._send_json(200, converted)


def _model(name: str, mtype: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "owned_by": "salutedevices", "type": mtype}


def _vector(model: str, text: str, dim: int) -> list[float]:
    rng = random.Random(hashlib.sha256(f"{model}\0{text}".encode()).digest())
    return [round(rng.uniform(-1, 1), 6) for _ in range(dim)]
