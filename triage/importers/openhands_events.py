"""OpenHands event histories as triage messages: the V1 SDK events and the 2024 action/observation shape.

V1 (``openhands-sdk``): events with ``kind`` — ``MessageEvent`` (``llm_message`` role/content),
``ActionEvent`` (``thought``, ``tool_call`` name/arguments/id, ``action``), ``ObservationEvent``
(``observation`` with ``output``/``content``, ``error``, ``exit_code``), ``AgentErrorEvent``,
``UserRejectObservation``, ``SystemPromptEvent``; state and condensation events carry no turn.

2024 (OpenHands ``evaluation/``): ``history`` is a list of ``[action, observation]`` pairs, or a flat list
of events; an action has ``action`` (``message``, ``run``, ``run_ipython``, ``browse``, ``edit``, ``finish``
...) and ``args``, an observation has ``observation`` (``run``, ``error``, ``null`` ...), ``content`` and
``extras`` (``exit_code``). Actions that act on the environment become tool calls, linked to their
observation by ``cause``/``tool_call_metadata`` or by pairing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from triage.importers._common import as_dict, flatten_text, number, text_or_none
from triage.models import Message, ToolCall

__all__ = ["convert_history", "history_shape"]

# 2024 actions that are turns of the conversation, not calls on the environment.
_TALK_ACTIONS = {"message", "finish", "reject", "null", "change_agent_state", "recall", "system", "condensation",
                 "condensation_request", "talk", "summarize", "add_task", "modify_task"}  # fmt: skip
# 2024 observations that report nothing the agent caused.
_SILENT_OBSERVATIONS = {"null", "agent_state_changed", "recall", "condense", "user_rejected_silent"}
# 2024 action -> the tool name CodeAct gave it.
_TOOL_NAMES = {"run": "execute_bash", "run_ipython": "execute_ipython_cell", "browse": "browser",
               "browse_interactive": "browser", "edit": "str_replace_editor", "read": "str_replace_editor",
               "write": "str_replace_editor"}  # fmt: skip
ERROR_CHARS = 500


def history_shape(history: Any) -> str:
    """``'v1'``, ``'pairs'``, ``'events'`` (flat 2024 events) or ``'empty'``; ``'unknown'`` otherwise."""
    if not isinstance(history, list) or not history:
        return "empty" if history == [] else "unknown"
    first = history[0]
    if isinstance(first, list):
        return "pairs"
    if isinstance(first, dict):
        if "kind" in first:
            return "v1"
        if "action" in first or "observation" in first:
            return "events"
    return "unknown"


def _arguments(raw: Any) -> dict[str, Any] | str | None:
    if isinstance(raw, str):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw  # malformed arguments as the model wrote them: evidence of a format error
        return parsed if isinstance(parsed, dict) else raw
    return raw if isinstance(raw, dict) or raw is None else orjson.dumps(raw).decode()


def _exit_error(code: Any, text: str) -> str | None:
    code = number(code)
    if code is None or code == 0:
        return None
    tail = text.strip()[-ERROR_CHARS:]
    return f"exit code {int(code)}" + (f": {tail}" if tail else "")


class _Builder:
    """Accumulates messages and links tool results to pending calls."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.pending: dict[str, ToolCall] = {}
        self.skipped: dict[str, int] = {}
        self.group: str | None = None  # model response id of the last assistant turn

    def skip(self, kind: str) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1

    def call(self, content: str, call: ToolCall, group: str | None) -> None:
        last = self.messages[-1] if self.messages else None
        # Parallel calls of one model response (same response id) are one assistant turn.
        if group and last is not None and last.role == "assistant" and self.group == group:
            last.tool_calls.append(call)
            if content and content not in last.content:
                last.content = f"{last.content}\n{content}".strip()
        else:
            self.messages.append(Message(role="assistant", content=content, tool_calls=[call]))
        self.group = group
        if call.id:
            self.pending[call.id] = call

    def result(self, call_id: Any, content: str, error: str | None, function: Any = None) -> None:
        call_id, function = text_or_none(call_id), text_or_none(function)  # as the log wrote them: any JSON
        call = self.pending.pop(call_id, None) if call_id else None
        if call is None and call_id is None and len(self.pending) == 1:
            call = self.pending.popitem()[1]
        self.messages.append(
            Message(role="tool", content=content, tool_call_id=call.id if call else call_id,
                    function=call.function if call else function, error=error)
        )  # fmt: skip

    def say(self, role: str, content: str) -> None:
        self.group = None
        self.messages.append(Message(role=role, content=content))  # type: ignore[arg-type]


# V1 SDK events ---------------------------------------------------------------------------------------


def _v1_observation_text(obs: dict[str, Any]) -> str:
    for key in ("output", "content", "text", "message", "result"):
        value = obs.get(key)
        if isinstance(value, str | list) and value:
            return flatten_text(value)
    rest = {k: v for k, v in obs.items() if k not in ("kind", "metadata")}
    return orjson.dumps(rest).decode() if rest else ""


def _v1_observation_error(obs: dict[str, Any], text: str) -> str | None:
    if obs.get("error") is True or obs.get("is_error") is True:
        return text.strip()[-ERROR_CHARS:] or "error"
    if isinstance(obs.get("error"), str) and obs["error"]:
        return obs["error"]
    if obs.get("timeout") is True:
        return "timeout" + (f": {text.strip()[-ERROR_CHARS:]}" if text.strip() else "")
    code = obs.get("exit_code")
    if code is None and isinstance(obs.get("metadata"), dict):
        code = obs["metadata"].get("exit_code")
    return _exit_error(code, text)


def _v1(events: Iterable[Any], b: _Builder, where: str) -> None:
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise ValueError(f"{where}[{index}]: expected an event object, got {type(event).__name__}")
        kind = event.get("kind")
        if kind == "MessageEvent":
            msg = as_dict(event.get("llm_message"))
            role = msg.get("role") if msg.get("role") in ("system", "user", "assistant") else None
            role = role or ("user" if event.get("source") == "user" else "assistant")
            b.say(role, flatten_text(msg.get("content")))
        elif kind == "SystemPromptEvent":
            b.say("system", flatten_text(event.get("system_prompt")))
        elif kind == "ActionEvent":
            call = event.get("tool_call") if isinstance(event.get("tool_call"), dict) else {}
            action = event.get("action") if isinstance(event.get("action"), dict) else {}
            name = call.get("name") or event.get("tool_name") or action.get("kind") or "action"
            args = (
                _arguments(call.get("arguments"))
                if "arguments" in call
                else {k: v for k, v in action.items() if k != "kind"}
            )
            call_id = event.get("tool_call_id") or call.get("id") or event.get("id") or f"call_{index}"
            thought = "\n".join(
                filter(None, [flatten_text(event.get("thought")), flatten_text(event.get("reasoning_content"))])
            )
            b.call(thought, ToolCall(id=str(call_id), function=str(name), arguments=args),
                   event.get("llm_response_id"))  # fmt: skip
        elif kind == "ObservationEvent":
            obs = event.get("observation") if isinstance(event.get("observation"), dict) else {}
            text = _v1_observation_text(obs)
            b.result(event.get("tool_call_id"), text, _v1_observation_error(obs, text), event.get("tool_name"))
        elif kind in ("AgentErrorEvent", "UserRejectObservation"):
            reason = event.get("error") or event.get("rejection_reason") or kind
            b.result(event.get("tool_call_id"), str(reason), str(reason), event.get("tool_name"))
        else:  # state updates, condensation bookkeeping, and kinds newer than this loader
            b.skip(str(kind))


# 2024 events -----------------------------------------------------------------------------------------


def _name(event: dict[str, Any], key: str, where: str) -> str | None:
    """The event's ``action`` or ``observation`` name (None when absent); ValueError naming the entry when it
    is there but not a string."""
    value = event.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{where}: field '{key}': expected the {key}'s name (a string), got {type(value).__name__}")
    return value


def _legacy_action(event: dict[str, Any], index: int, b: _Builder, where: str) -> None:
    action = _name(event, "action", where)
    args = event.get("args") if isinstance(event.get("args"), dict) else {}
    source = event.get("source")
    thought = flatten_text(args.get("thought")) if args.get("thought") else ""
    if action in _TALK_ACTIONS:
        if action == "message":
            text = flatten_text(args.get("content")) or flatten_text(event.get("message"))
            b.say("user" if source in ("user", "environment") else "assistant", text)
        elif action == "finish":
            outputs = args.get("outputs")
            parts = [thought, flatten_text(args.get("final_thought"))]
            if isinstance(outputs, dict) and outputs:
                parts.append(orjson.dumps(outputs).decode())
            b.say("assistant", "\n".join(p for p in parts if p) or flatten_text(event.get("message")))
        elif action == "system":
            b.say("system", flatten_text(args.get("content")) or flatten_text(event.get("message")))
        else:
            b.skip(f"action:{action}")
        return
    meta = event.get("tool_call_metadata") if isinstance(event.get("tool_call_metadata"), dict) else {}
    name = meta.get("function_name") or _TOOL_NAMES.get(str(action), str(action))
    call_id = meta.get("tool_call_id") or (f"event_{event['id']}" if "id" in event else f"call_{index}")
    arguments = {k: v for k, v in args.items() if k not in ("thought", "is_confirmed", "security_risk",
                                                             "confirmation_state", "hidden", "blocking")}  # fmt: skip
    b.call(thought, ToolCall(id=str(call_id), function=str(name), arguments=arguments), None)


def _legacy_observation(event: dict[str, Any], b: _Builder, paired: str | None, where: str) -> None:
    kind = _name(event, "observation", where)
    if kind in _SILENT_OBSERVATIONS:
        b.skip(f"observation:{kind}")
        return
    meta = event.get("tool_call_metadata") if isinstance(event.get("tool_call_metadata"), dict) else {}
    call_id = text_or_none(meta.get("tool_call_id")) or (
        f"event_{event['cause']}" if event.get("cause") is not None else paired
    )
    content = flatten_text(event.get("content"))
    extras = event.get("extras") if isinstance(event.get("extras"), dict) else {}
    if kind == "error":
        error = content.strip()[-ERROR_CHARS:] or "error"
    elif kind == "user_rejected":
        error = content or "rejected by the user"
    else:
        error = _exit_error(extras.get("exit_code"), content)
        if error is None and (extras.get("error") is True or extras.get("metadata", {}) == {"error": True}):
            error = content.strip()[-ERROR_CHARS:] or "error"
    if call_id not in b.pending and not b.pending:
        # Nothing called it: the controller's own error stays an (unlinked) tool error, the rest is the
        # environment speaking.
        if kind == "error":
            b.result(None, content, error, None)
        else:
            b.say("user", content)
        return
    b.result(call_id if call_id in b.pending else None, content, error, _TOOL_NAMES.get(str(kind)))


def _legacy(history: list[Any], b: _Builder, where: str, pairs: bool) -> None:
    for index, entry in enumerate(history):
        if pairs:
            if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, dict) for e in entry)):
                raise ValueError(f"{where}[{index}]: expected an [action, observation] pair of objects")
            action, observation = entry
            before = set(b.pending)
            _legacy_action(action, index, b, f"{where}[{index}][0]")
            new = [k for k in b.pending if k not in before]
            _legacy_observation(observation, b, new[0] if new else None, f"{where}[{index}][1]")
            continue
        if not isinstance(entry, dict):
            raise ValueError(f"{where}[{index}]: expected an event object, got {type(entry).__name__}")
        if "action" in entry:
            _legacy_action(entry, index, b, f"{where}[{index}]")
        elif "observation" in entry:
            _legacy_observation(entry, b, None, f"{where}[{index}]")
        else:
            b.skip("unknown")


def convert_history(history: Any, where: str = "history") -> tuple[list[Message], dict[str, int], str]:
    """``(messages, skipped event counts by kind, shape)``; ValueError naming the entry on a bad shape."""
    shape = history_shape(history)
    b = _Builder()
    if shape == "v1":
        _v1(history, b, where)
    elif shape in ("pairs", "events"):
        _legacy(history, b, where, pairs=shape == "pairs")
    elif shape == "unknown":
        raise ValueError(f"{where}: expected a list of OpenHands events or [action, observation] pairs")
    return b.messages, b.skipped, shape
