"""SWE-agent trajectory loader (``swe-agent``): one ``<instance_id>.traj`` file is one run.

The run's messages come from ``history`` without its demonstration turns (``is_demo``). Assistant turns
with an ``action`` become a ``bash`` tool call carrying the command text, and the user turn that follows
(the environment's observation) becomes its tool result. ``info.exit_status`` and ``info.submission``
(the patch) are kept. Pass/fail comes from a SWE-bench ``results.json`` (``resolved`` ids) found beside
the trajectory, in a parent directory (or its ``results/`` folder), or named with ``--results``; without
one, success is unknown and the status follows the exit status. Run ids are
``swe-agent/<agent>/<instance_id>`` so two agents' runs of one instance coexist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from triage.importers import swebench_results
from triage.importers._common import (
    ancestors,
    as_dict,
    as_list,
    flatten_text,
    meaningful_dir,
    number,
    read_json,
    text_or_none,
    top_level_keys,
)
from triage.importers.base import Item, Loader, LoadError, LoadOptions, SourceInfo
from triage.models import Message, Run, ToolCall
from triage.outcomes import derive_status

RESULTS_NAMES = ("results.json", "results/results.json")
SEARCH_LEVELS = 4  # the trajectory's folder and three parents
_TRUE = {True, "True", "true", "1"}
_HARNESS_EXIT = re.compile(r"^exit_[a-z_]+$")


def sniff(path: Path, head: bytes) -> bool:
    suffix = path.suffix.lower()
    if suffix not in (".traj", ".json") or path.name.endswith(".traj.json") and b"mini-swe-agent" in head:
        return False
    keys = top_level_keys(head)
    if "trajectory_format" in keys or "schema_version" in keys:
        return False
    if suffix == ".traj":
        return bool({"trajectory", "history", "info"} & set(keys))
    # A .json trajectory: SWE-agent's keys, and its history/trajectory lists (not OpenAI-style records).
    return "trajectory" in keys and ("history" in keys or "environment" in keys or "info" in keys)


def companion(path: Path, head: bytes) -> bool:
    """A SWE-bench results file (read beside trajectories, never imported on its own)."""
    return path.suffix.lower() == ".json" and path.name != "report.json" and swebench_results.looks_like_results(head)


def _is_demo(entry: dict[str, Any]) -> bool:
    flag = entry.get("is_demo")
    return isinstance(flag, int | str) and flag in _TRUE  # (bool is an int)


def _agent_and_model(path: Path, doc: dict[str, Any], options: LoadOptions) -> tuple[str, str | None]:
    """The agent name (``--agent``, the model, or the folder name) and the model when recorded."""
    model = _model_name(doc)
    return options.agent or model or meaningful_dir(path) or "swe-agent", model


def _model_name(doc: dict[str, Any]) -> str | None:
    config = doc.get("replay_config")
    if isinstance(config, str):
        try:
            config = orjson.loads(config)
        except orjson.JSONDecodeError:
            config = None
    if isinstance(config, dict):
        model = as_dict(config.get("agent")).get("model") or config.get("model")
        if isinstance(model, dict):
            name = model.get("name") or model.get("model_name")
            if isinstance(name, str) and name:
                return name
    info = as_dict(doc.get("info"))
    for holder in (as_dict(info.get("model_stats")), info):
        for key in ("model", "model_name"):
            if isinstance(holder.get(key), str) and holder[key]:
                return holder[key]
    return None


def _results_candidates(path: Path, options: LoadOptions) -> list[Path]:
    named = [Path(p) for p in options.companions]
    found = [d / name for d in ancestors(path, SEARCH_LEVELS) for name in RESULTS_NAMES]
    return named + found


def _tool_calls(entry: dict[str, Any], index: int) -> list[ToolCall]:
    """Calls of one assistant turn: function-calling ``tool_calls`` when present, else its ``action``."""
    calls = []
    for n, call in enumerate(as_list(entry.get("tool_calls"))):
        if not isinstance(call, dict):
            continue
        fn = as_dict(call.get("function"))
        args: Any = fn.get("arguments")
        if isinstance(args, str):
            try:
                args = orjson.loads(args)
            except orjson.JSONDecodeError:
                pass
        calls.append(
            ToolCall(
                id=text_or_none(call.get("id")) or f"call_{index}_{n}",
                function=text_or_none(fn.get("name")) or "bash",
                arguments=args if isinstance(args, dict | str) or args is None else str(args),
            )
        )
    if calls:
        return calls
    action = entry.get("action")
    if isinstance(action, str) and action.strip():
        return [ToolCall(id=f"call_{index}", function="bash", arguments={"command": action.strip()})]
    return []


def _messages(path: Path, doc: dict[str, Any]) -> list[Message]:
    history = doc.get("history")
    if not isinstance(history, list):
        raise LoadError(path, "field 'history'", "expected a list of messages")
    messages: list[Message] = []
    pending: ToolCall | None = None
    for index, entry in enumerate(history):
        if not isinstance(entry, dict):
            raise LoadError(path, f"history[{index}]", f"expected an object, got {type(entry).__name__}")
        if _is_demo(entry):
            continue
        role = entry.get("role")
        content = flatten_text(entry.get("content"))
        if role == "system":
            messages.append(Message(role="system", content=content))
        elif role == "assistant":
            action = entry.get("action")
            # The harness writes its own exit turn ("Exit due to cost limit"): not a command the model ran.
            harness_exit = isinstance(action, str) and _HARNESS_EXIT.match(action.strip()) is not None
            calls = [] if harness_exit else _tool_calls(entry, index)
            messages.append(Message(role="assistant", content=content, tool_calls=calls))
            pending = calls[0] if len(calls) == 1 else None
        elif role in ("user", "tool"):
            ids = entry.get("tool_call_ids") or ([entry["tool_call_id"]] if entry.get("tool_call_id") else [])
            if role == "tool" or (pending is not None and index > 0):
                call_id = ids[0] if ids else (pending.id if pending else None)
                fn = pending.function if pending else None
                messages.append(Message(role="tool", content=content, tool_call_id=call_id, function=fn))
            else:
                messages.append(Message(role="user", content=content))
            pending = None
        else:
            raise LoadError(
                path, f"history[{index}], field 'role'", f"expected system, user, assistant or tool, got {role!r}"
            )
    # History ends at the last action; its observation is only in the trajectory.
    steps = doc.get("trajectory")
    if pending is not None and isinstance(steps, list) and steps and isinstance(steps[-1], dict):
        last = steps[-1]
        command = pending.arguments.get("command") if isinstance(pending.arguments, dict) else None
        if isinstance(last.get("observation"), str) and str(last.get("action") or "").strip() == command:
            messages.append(
                Message(role="tool", content=last["observation"], tool_call_id=pending.id, function=pending.function)
            )
    return messages


_LIMIT_STATUS = {
    "exit_cost": "cost",
    "exit_context": "context",
    "exit_step_limit": "steps",
    "exit_total_execution_time": "time",
}


def _outcome(exit_status: str | None, doc: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """``(error, error_type, limit_type)`` from the exit status (``submitted (exit_cost)`` included)."""
    if exit_status is None:
        steps = doc.get("trajectory") or []
        last = steps[-1].get("observation") if steps and isinstance(steps[-1], dict) else None
        detail = last.strip() if isinstance(last, str) and 0 < len(last.strip()) <= 500 else None
        return (detail or "no exit status recorded: the run ended abnormally"), "no_exit_status", None
    match = re.search(r"\b(exit_[a-z_]+)", exit_status)
    if not match:
        return None, None, None  # submitted, or a status we do not read as a failure cause
    kind = match.group(1)
    if kind in _LIMIT_STATUS:
        return None, kind, _LIMIT_STATUS[kind]
    return f"exit status {exit_status}", kind, None


def load(path: Path, options: LoadOptions) -> Iterator[Item]:
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise LoadError(path, None, f"expected a JSON object (a SWE-agent trajectory), got {type(doc).__name__}")
    info = doc.get("info")
    if info is not None and not isinstance(info, dict):
        raise LoadError(path, "field 'info'", f"expected an object, got {type(info).__name__}")
    info = info or {}
    exit_status = info.get("exit_status")
    if exit_status is not None and not isinstance(exit_status, str):
        raise LoadError(path, "field 'info.exit_status'", f"expected a string or null, got {exit_status!r}")
    instance_id = path.name.removesuffix(".json").removesuffix(".traj")
    agent, model = _agent_and_model(path, doc, options)
    messages = _messages(path, doc)

    resolved, results_path = swebench_results.find_verdict(instance_id, _results_candidates(path, options))
    error, error_type, limit_type = _outcome(exit_status, doc)
    stats = as_dict(info.get("model_stats"))
    sent, received = number(stats.get("tokens_sent")), number(stats.get("tokens_received"))
    submission = info.get("submission")
    metadata: dict[str, Any] = {
        "results_file": str(results_path) if results_path else None,
        "cost_usd": number(stats.get("instance_cost")),
        "api_calls": number(stats.get("api_calls")),
        "demo_turns_dropped": sum(1 for e in doc.get("history") or [] if isinstance(e, dict) and _is_demo(e)),
        "environment": doc.get("environment") if isinstance(doc.get("environment"), str) else None,
    }
    yield Run(
        id=f"swe-agent/{agent}/{instance_id}",
        task_id=instance_id,
        sample_id=instance_id,
        agent=agent,
        model=model,
        score=None if resolved is None else float(resolved),
        score_raw=None if resolved is None else {"resolved": resolved},
        success=resolved,
        status=derive_status(resolved, error=error, error_type=error_type, limit_type=limit_type),
        error=error,
        error_type=error_type,
        limit_type=limit_type,
        exit_status=exit_status,
        submission=submission if isinstance(submission, str) and submission else None,
        input_tokens=int(sent) if sent is not None else None,
        output_tokens=int(received) if received is not None else None,
        total_tokens=int(sent + received) if sent is not None and received is not None else None,
        metadata={k: v for k, v in metadata.items() if v is not None},
        messages=messages,
    )
    yield SourceInfo(log_status=exit_status)


LOADER = Loader(
    name="swe-agent",
    description="SWE-agent trajectories (.traj) with SWE-bench results.json",
    sniff=sniff,
    load=load,
    companion=companion,
    priority=20,
    extensions=(".traj", ".json"),
)
