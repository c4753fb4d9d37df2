"""Calls to an OpenAI-compatible chat-completions server with the official ``openai`` client.

Works with OpenAI and with vLLM, llama.cpp, Ollama and other compatible servers:

- The API key is read from an environment variable at connection time and handed only to the
  ``openai`` client; it is never stored, logged or put in an error message. A server on a loopback
  address may need no key, so an unset variable there becomes a placeholder.
- Retries with exponential backoff and jitter on 429, 5xx, timeouts and connection errors are the
  ``openai`` client's own (``max_retries``; it honours ``Retry-After``).
- The reply format degrades on a 400 from the server, once for all threads: a strict JSON schema,
  then the same schema without length/count keywords, then ``{"type": "json_object"}``, then no
  ``response_format`` at all (the prompt still asks for JSON and pydantic validates). A 400 that names
  ``max_tokens`` switches to ``max_completion_tokens``; one that names ``temperature`` drops it.
- :meth:`SuggestClient.probe` lists the server's models so an unreachable server or an unknown model
  is reported before any request is made.
"""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from triage.suggest.prompt import Prompt, estimate_tokens
from triage.suggest.redact import redact, register_secret
from triage.suggest.reply import SCHEMA_NAME

if TYPE_CHECKING:  # the client and its errors are imported where a request is made: importing the ``openai``
    # package takes most of a second, which `triage show` and the TUI (through triage.views) would pay for nothing
    import openai

DEFAULT_BASE_URL = "https://api.openai.com/v1"
LOCAL_PLACEHOLDER_KEY = "not-needed"
FORMAT_MODES = ("json_schema", "json_schema_portable", "json_object", "none")


class SuggestClientError(Exception):
    """A problem talking to the server; ``code`` is the CLI exit code it deserves."""

    code = 1


class MissingKeyError(SuggestClientError):
    """No API key in the environment for a non-local server."""

    code = 2


class ServerUnreachableError(SuggestClientError):
    """The server could not be reached (connection refused, DNS, timeout) even after retries."""


class ModelUnknownError(SuggestClientError):
    """The server does not serve the requested model (or the base URL is wrong)."""

    code = 2


class AuthError(SuggestClientError):
    """The server rejected the API key."""

    code = 2


class TransientError(SuggestClientError):
    """Rate limits, server errors or timeouts that outlasted the retries: worth asking again later."""


class RequestRejectedError(SuggestClientError):
    """The server refused this particular request (400/413/422) in every reply format."""


@dataclass
class Completion:
    """One chat completion's outcome, reduced to what is stored."""

    text: str | None
    finish_reason: str | None
    refusal: str | None
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    mode: str


@dataclass(frozen=True)
class _Style:
    format_index: int = 0
    token_param: str = "max_tokens"
    temperature: bool = True


def host_of(base_url: str) -> str:
    """``host[:port]`` of a base URL: the only part of it that is stored."""
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    return f"{host}:{parts.port}" if parts.port else host


def is_local(base_url: str) -> bool:
    """Whether ``base_url`` points at this machine (where servers usually need no key)."""
    host = urlsplit(base_url).hostname or ""
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _is_context_error(message: str) -> bool:
    return any(k in message for k in ("context", "too long", "too many tokens", "maximum length", "exceed"))


def _status_message(exc: openai.APIStatusError) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return redact(" ".join(str(message).split()))[:500]


class SuggestClient:
    """A thread-safe client for one server and one model; see the module docstring for its behaviour."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        max_retries: int = 3,
        max_reply_tokens: int = 400,
        temperature: float = 0.0,
    ) -> None:
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.host = host_of(self.base_url)
        self.max_reply_tokens = max_reply_tokens
        self.temperature = temperature
        key = os.environ.get(api_key_env) if api_key_env else None
        if not key:
            if not is_local(self.base_url):
                raise MissingKeyError(
                    f"no API key: set ${api_key_env} (or choose another variable with --api-key-env) for {self.host}"
                )
            key = LOCAL_PLACEHOLDER_KEY
        register_secret(key)  # a server may echo it back in an error body: never stored or printed
        import openai

        self._client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=timeout, max_retries=max_retries)
        self._style = _Style()
        self._lock = threading.Lock()

    @property
    def format_mode(self) -> str:
        return FORMAT_MODES[self._style.format_index]

    # --- probing --------------------------------------------------------------------------------------

    def probe(self, check_model: bool = True) -> list[str] | None:
        """List the server's models; raise when it is unreachable, refuses the key or lacks the model.

        Returns the model ids, or None when the server has no model list (then the first request is
        the probe).
        """
        import openai  # loaded by __init__: only the name here

        client = self._client.with_options(max_retries=1)
        try:
            page = client.models.list()
        except openai.APIConnectionError as exc:
            raise ServerUnreachableError(f"cannot reach the server at {self.host}: {_cause(exc)}") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise AuthError(f"{self.host} rejected the API key: {_status_message(exc)}") from None
        except openai.APIStatusError:
            return None  # no /models endpoint: not every compatible server has one
        except openai.OpenAIError:
            return None
        names: set[str] = set()
        for item in page.data:
            names.add(item.id)
            extra = getattr(item, "model_extra", None) or {}
            for alias in extra.get("aliases") or []:  # llama.cpp lists --alias names here
                names.add(str(alias))
        if check_model and names and not _model_matches(self.model, names):
            shown = ", ".join(sorted(names)[:20])
            raise ModelUnknownError(f"{self.host} does not serve model {self.model!r} (it lists: {shown})")
        return sorted(names)

    # --- completions ----------------------------------------------------------------------------------

    def _request(self, prompt: Prompt, schemas: tuple[dict, dict], style: _Style) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"model": self.model, "messages": prompt.messages()}
        kwargs[style.token_param] = self.max_reply_tokens
        if style.temperature:
            kwargs["temperature"] = self.temperature
        mode = FORMAT_MODES[style.format_index]
        if mode in ("json_schema", "json_schema_portable"):
            schema = schemas[0] if mode == "json_schema" else schemas[1]
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": True},
            }
        elif mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs

    def _adapt(self, used: _Style, exc: openai.APIStatusError) -> bool:
        """After a 400 in ``used`` style, change the shared style; False when nothing is left to try."""
        message = _status_message(exc).lower()
        with self._lock:
            if self._style != used:
                return True  # another thread already adapted: try again with the new style
            if "max_tokens" in message and used.token_param == "max_tokens":
                self._style = replace(used, token_param="max_completion_tokens")
            elif "temperature" in message and used.temperature:
                self._style = replace(used, temperature=False)
            elif _is_context_error(message):
                return False
            elif used.format_index < len(FORMAT_MODES) - 1:
                self._style = replace(used, format_index=used.format_index + 1)
            else:
                return False
            return True

    def complete(self, prompt: Prompt, schemas: tuple[dict, dict]) -> Completion:
        """Ask for one suggestion; ``schemas`` is (full, portable) reply schema. Raises SuggestClientError."""
        import openai  # loaded by __init__: only the name here

        started = time.monotonic()
        while True:
            style = self._style
            try:
                response = self._client.chat.completions.create(**self._request(prompt, schemas, style))
                break
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if self._adapt(style, exc):
                    continue
                raise RequestRejectedError(f"the server rejected the request: {_status_message(exc)}") from None
            except openai.APIConnectionError as exc:  # includes timeouts, after the client's retries
                raise ServerUnreachableError(f"cannot reach the server at {self.host}: {_cause(exc)}") from None
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise AuthError(f"{self.host} rejected the API key: {_status_message(exc)}") from None
            except openai.NotFoundError as exc:
                raise ModelUnknownError(
                    f"{self.host} answered 404 for model {self.model!r} (unknown model or wrong --base-url): "
                    f"{_status_message(exc)}"
                ) from None
            except openai.APIStatusError as exc:
                if exc.status_code >= 500 or exc.status_code in (408, 409, 429):
                    raise TransientError(f"{self.host}: {exc.status_code} {_status_message(exc)}") from None
                raise RequestRejectedError(
                    f"the server rejected the request: {exc.status_code} {_status_message(exc)}"
                ) from None
        seconds = time.monotonic() - started
        if not response.choices:
            return Completion(
                None,
                None,
                None,
                estimate_tokens(prompt.system + prompt.user),
                0,
                seconds,
                FORMAT_MODES[style.format_index],
            )
        choice = response.choices[0]
        text = choice.message.content if choice.message else None
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage and usage.prompt_tokens is not None else None
        completion_tokens = usage.completion_tokens if usage and usage.completion_tokens is not None else None
        return Completion(
            text=text,
            finish_reason=choice.finish_reason,
            refusal=getattr(choice.message, "refusal", None) if choice.message else None,
            prompt_tokens=prompt_tokens if prompt_tokens is not None else prompt.estimated_tokens,
            completion_tokens=completion_tokens if completion_tokens is not None else estimate_tokens(text or ""),
            seconds=seconds,
            mode=FORMAT_MODES[style.format_index],
        )

    def close(self) -> None:
        self._client.close()


def _model_matches(model: str, names: set[str]) -> bool:
    # Ollama lists "name:latest" and accepts "name"; some servers list "org/name" paths.
    return model in names or f"{model}:latest" in names or any(n.rsplit("/", 1)[-1] == model for n in names)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(cause) if cause else str(exc)
    return redact(" ".join(text.split()))[:200] or exc.__class__.__name__
