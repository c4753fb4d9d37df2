"""Harbor ATIF loader (``atif``): one ``trajectory.json`` (Agent Trajectory Interchange Format) is one run.

Steps become messages: ``source`` system/user/agent map to system/user/assistant; an agent step's
``tool_calls`` (``tool_call_id``, ``function_name``, ``arguments``) become tool calls, and its
``observation.results`` become tool results (linked by ``source_call_id``) or, without a call id, the
environment's reply as a user message. ``final_metrics`` give the token counts.

Continuations: when context summarisation hands over to a fresh context, Harbor writes the rest of the
same attempt to ``trajectory.cont-N.json`` and names it in the parent's ``continued_trajectory_ref``. A
continuation is *appended to its parent* (one attempt = one run): its steps follow the parent's, steps
marked ``is_copied_context`` that repeat earlier messages are dropped, and metrics are summed. A
continuation file beside its parent is a companion (skipped in a directory walk); one whose parent is
missing is imported as a run of its own.

Success is unknown unless a verifier result is found: ``verifier_result``/``reward`` in the trajectory,
a Harbor trial ``result.json`` (``verifier_result.rewards``; also ``task_name`` and ``exception_info``) in
the trajectory's folder or up to two parents, or ``verifier/reward.txt``/``reward.json`` in the trial folder.
A trajectory at ``agent/trajectory.json`` of a Harbor trial folder is read by the ``harbor`` loader with
its trial (see :mod:`triage.importers.harbor`), so here it is a companion.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from triage.importers._common import (
    ancestors,
    as_dict,
    as_list,
    flatten_text,
    meaningful_dir,
    number,
    parse_iso,
    read_json,
    seconds_between,
    top_level_keys,
)
from triage.importers.base import SNIFF_BYTES, Item, Loader, LoadError, LoadOptions, SourceInfo
from triage.models import Message, Run, ToolCall
from triage.outcomes import binarise, derive_status

_SCHEMA = re.compile(rb'"schema_version"\s*:\s*"ATIF', re.IGNORECASE)
_CONT_NAME = re.compile(r"^(?P<base>.*)\.cont-(?P<n>\d+)\.json$")
MAX_CONTINUATIONS = 50
RESULT_LEVELS = 3
_ROLES = {"system": "system", "user": "user", "agent": "assistant", "assistant": "assistant"}


def _parent_of_continuation(path: Path) -> Path | None:
    """The trajectory a ``*.cont-N.json`` file continues, when it exists beside it."""
    match = _CONT_NAME.match(path.name)
    if not match:
        return None
    n = int(match.group("n"))
    name = f"{match.group('base')}.json" if n == 1 else f"{match.group('base')}.cont-{n - 1}.json"
    parent = path.with_name(name)
    return parent if parent.is_file() else None


def _is_atif(head: bytes) -> bool:
    keys = top_level_keys(head)
    return bool(_SCHEMA.search(head)) and ("steps" in keys or "session_id" in keys or "agent" in keys)


def _in_harbor_trial(path: Path) -> bool:
    """``agent/trajectory.json`` of a Harbor trial folder: the ``harbor`` loader reads it with the trial."""
    if path.parent.name != "agent":
        return False
    try:
        with open(path.parent.parent / "result.json", "rb") as fh:
            keys = set(top_level_keys(fh.read(SNIFF_BYTES)))
    except OSError:
        return False
    trial_fields = {"task_name", "trial_uri", "task_checksum", "verifier_result", "exception_info", "agent_result"}
    return "trial_name" in keys and bool(keys & trial_fields)


def sniff(path: Path, head: bytes) -> bool:
    return (
        path.suffix.lower() == ".json"
        and _is_atif(head)
        and _parent_of_continuation(path) is None
        and not _in_harbor_trial(path)
    )


def companion(path: Path, head: bytes) -> bool:
    """A continuation beside its parent, or a Harbor trial's result.json / verifier reward.json."""
    if path.suffix.lower() != ".json":
        return False
    if _is_atif(head):
        return _parent_of_continuation(path) is not None or _in_harbor_trial(path)
    keys = set(top_level_keys(head))
    if path.name == "result.json" and keys & {"verifier_result", "trial_name", "agent_result"}:
        return True
    return path.name == "reward.json" and path.parent.name == "verifier"


def _continuations(path: Path, doc: dict[str, Any]) -> tuple[list[tuple[Path, dict[str, Any]]], list[str]]:
    """The chain of continuation documents after ``doc`` and notes on any that are missing."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    notes: list[str] = []
    current_path, current = path, doc
    seen = {path.resolve()}
    for n in range(1, MAX_CONTINUATIONS + 1):
        ref = current.get("continued_trajectory_ref")
        if not isinstance(ref, str) or not ref:
            break
        base = _CONT_NAME.match(current_path.name)
        stem = base.group("base") if base else current_path.name.removesuffix(".json")
        candidates = [current_path.parent / ref, current_path.with_name(f"{stem}.cont-{n}.json")]
        found = next((c for c in candidates if c.is_file() and c.resolve() not in seen), None)
        if found is None:
            notes.append(f"continuation {ref!r} not found beside {current_path.name}")
            break
        data = read_json(found)
        if not isinstance(data, dict):
            raise LoadError(found, None, f"expected an ATIF trajectory object, got {type(data).__name__}")
        seen.add(found.resolve())
        chain.append((found, data))
        current_path, current = found, data
    return chain, notes


def _arguments(raw: Any) -> dict[str, Any] | str | None:
    if isinstance(raw, str):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
        return parsed if isinstance(parsed, dict) else raw
    return raw if raw is None or isinstance(raw, dict) else orjson.dumps(raw).decode()


def _step_messages(path: Path, index: int, step: Any, call_names: dict[str, str]) -> list[Message]:
    if not isinstance(step, dict):
        raise LoadError(path, f"steps[{index}]", f"expected an object, got {type(step).__name__}")
    source = step.get("source")
    role = _ROLES.get(source) if isinstance(source, str) else None
    if role is None:
        raise LoadError(
            path, f"steps[{index}], field 'source'", f"expected system, user or agent, got {step.get('source')!r}"
        )
    content = flatten_text(step.get("message"))
    calls: list[ToolCall] = []
    raw_calls = step.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise LoadError(path, f"steps[{index}], field 'tool_calls'", "expected a list")
    for n, call in enumerate(raw_calls):
        if not isinstance(call, dict) or not isinstance(call.get("function_name"), str):
            raise LoadError(path, f"steps[{index}], field 'tool_calls[{n}].function_name'", "expected a function name")
        call_id = str(call.get("tool_call_id") or f"step{step.get('step_id', index)}_call{n}")
        calls.append(ToolCall(id=call_id, function=call["function_name"], arguments=_arguments(call.get("arguments"))))
        call_names[call_id] = call["function_name"]
    messages = [Message(role=role, content=content, tool_calls=calls if role == "assistant" else [])]
    observation = step.get("observation")
    for result in as_list(as_dict(observation).get("results")):
        if not isinstance(result, dict):
            continue
        text = flatten_text(result.get("content"))
        call_id = result.get("source_call_id")
        if call_id:
            messages.append(
                Message(role="tool", content=text, tool_call_id=str(call_id), function=call_names.get(str(call_id)))
            )
        elif text:
            # Output without a call id (text-parsed actions): the environment's reply to the agent.
            messages.append(Message(role="user", content=text))
    return messages


def _find_trial_result(path: Path) -> tuple[dict[str, Any] | None, Path | None]:
    for folder in ancestors(path, RESULT_LEVELS):
        candidate = folder / "result.json"
        if candidate.is_file():
            try:
                data = orjson.loads(candidate.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue
            if isinstance(data, dict) and ("verifier_result" in data or "trial_name" in data):
                return data, candidate
    return None, None


def _reward_from(value: Any) -> tuple[float | None, Any]:
    """A numeric reward from a verifier result (``{rewards: {reward: x}}``, ``{reward: x}`` or x)."""
    if isinstance(value, dict):
        rewards = value.get("rewards", value)
        if isinstance(rewards, dict):
            if number(rewards.get("reward")) is not None:
                return number(rewards["reward"]), value
            numbers = [number(v) for v in rewards.values() if number(v) is not None]
            if len(numbers) == 1:
                return numbers[0], value
        elif number(rewards) is not None:
            return number(rewards), value
        return None, value
    return number(value), value


def _verifier_file_reward(trial_dir: Path) -> tuple[float | None, Any, Path | None]:
    text_file, json_file = trial_dir / "verifier" / "reward.txt", trial_dir / "verifier" / "reward.json"
    if text_file.is_file():
        try:
            return float(text_file.read_text().strip()), {"reward.txt": text_file.read_text().strip()}, text_file
        except (OSError, ValueError):
            pass
    if json_file.is_file():
        try:
            data = orjson.loads(json_file.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None, None, None
        score, raw = _reward_from(data)
        return score, raw, json_file
    return None, None, None


def _outcome(path: Path, doc: dict[str, Any]) -> dict[str, Any]:
    """Reward, task and error facts from the trajectory or the Harbor trial folder around it."""
    facts: dict[str, Any] = {}
    for holder in (doc, doc.get("extra") if isinstance(doc.get("extra"), dict) else {}):
        for key in ("verifier_result", "reward"):
            if key in holder:
                facts["score"], facts["score_raw"] = _reward_from(holder[key])
                facts["reward_source"] = f"trajectory field {key!r}"
                break
        if "score" in facts:
            break
    trial, trial_path = _find_trial_result(path)
    if trial is not None and trial_path is not None:
        facts["trial_result"] = str(trial_path)
        if "score" not in facts and trial.get("verifier_result") is not None:
            facts["score"], facts["score_raw"] = _reward_from(trial["verifier_result"])
            facts["reward_source"] = str(trial_path)
        if isinstance(trial.get("task_name"), str):
            facts["task_id"] = trial["task_name"]
        if isinstance(trial.get("trial_name"), str):
            facts["trial_name"] = trial["trial_name"]
        exc = trial.get("exception_info")
        if isinstance(exc, dict) and (exc.get("exception_type") or exc.get("exception_message")):
            facts["error_type"] = exc.get("exception_type") or None
            facts["error"] = exc.get("exception_message") or exc.get("exception_type")
            if "timeout" in str(exc.get("exception_type", "")).lower():
                facts["limit_type"] = "time"
        info = trial.get("agent_info") or {}
        model_info = info.get("model_info") if isinstance(info, dict) else None
        if isinstance(model_info, dict) and isinstance(model_info.get("name"), str):
            facts["model"] = model_info["name"]
    if "score" not in facts or facts["score"] is None:
        trial_dir = (
            trial_path.parent if trial_path else (path.parent.parent if path.parent.name == "agent" else path.parent)
        )
        score, raw, source = _verifier_file_reward(trial_dir)
        if source is not None:
            facts["score"], facts["score_raw"], facts["reward_source"] = score, raw, str(source)
    return facts


def _run_name(path: Path) -> str:
    stem = path.name.removesuffix(".json").removesuffix(".trajectory")
    if stem.lower() in ("trajectory", "traj", ""):
        return meaningful_dir(path) or stem
    return stem


def _metric(doc: dict[str, Any], key: str) -> float | None:
    metrics = doc.get("final_metrics")
    return number(metrics.get(key)) if isinstance(metrics, dict) else None


def load(path: Path, options: LoadOptions) -> Iterator[Item]:
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise LoadError(path, None, f"expected an ATIF trajectory object, got {type(doc).__name__}")
    if not isinstance(doc.get("steps"), list):
        raise LoadError(path, "field 'steps'", "expected a list of steps")
    agent_info = doc.get("agent") if isinstance(doc.get("agent"), dict) else {}
    chain, notes = _continuations(path, doc)

    messages: list[Message] = []
    call_names: dict[str, str] = {}
    timestamps: list[str] = []
    step_model = None
    for part_path, part in [(path, doc), *chain]:
        steps = part.get("steps")
        if not isinstance(steps, list):
            raise LoadError(part_path, "field 'steps'", "expected a list of steps")
        known = {(m.role, m.content) for m in messages}
        for index, step in enumerate(steps):
            new = _step_messages(part_path, index, step, call_names)
            if step.get("is_copied_context") and all((m.role, m.content) in known for m in new):
                continue  # context copied from the parent: already in the run
            messages.extend(new)
            if isinstance(step.get("timestamp"), str) and parse_iso(step["timestamp"]):
                timestamps.append(step["timestamp"])
            step_model = step_model or (step.get("model_name") if isinstance(step.get("model_name"), str) else None)

    facts = _outcome(path, doc)
    model = agent_info.get("model_name") if isinstance(agent_info.get("model_name"), str) else None
    model = model or facts.get("model") or step_model
    agent_name = agent_info.get("name") if isinstance(agent_info.get("name"), str) else None
    agent = options.agent or ("/".join(p for p in (agent_name, model) if p) or None)
    score = facts.get("score")
    success = binarise(score)
    error, error_type, limit_type = facts.get("error"), facts.get("error_type"), facts.get("limit_type")

    def total(key: str) -> int | None:
        values = [v for _, d in [(path, doc), *chain] if (v := _metric(d, key)) is not None]
        return int(sum(values)) if values else None

    prompt, completion = total("total_prompt_tokens"), total("total_completion_tokens")
    cost = [v for _, d in [(path, doc), *chain] if (v := _metric(d, "total_cost_usd")) is not None]
    metadata: dict[str, Any] = {
        "schema_version": doc.get("schema_version"),
        "session_id": doc.get("session_id"),
        "agent_version": agent_info.get("version"),
        "continuations": [p.name for p, _ in chain] or None,
        "notes": notes or None,
        "cost_usd": sum(cost) if cost else None,
        "reward_source": facts.get("reward_source"),
        "trial_result": facts.get("trial_result"),
        "trial_name": facts.get("trial_name"),
    }
    started = min(timestamps, key=lambda t: parse_iso(t)) if timestamps else None
    completed = max(timestamps, key=lambda t: parse_iso(t)) if timestamps else None
    yield Run(
        id=f"atif/{_run_name(path)}",
        task_id=facts.get("task_id"),
        sample_id=doc.get("session_id") if isinstance(doc.get("session_id"), str) else None,
        agent=agent,
        model=model,
        score=score,
        score_raw=facts.get("score_raw"),
        success=success,
        status=derive_status(success, error=error, error_type=error_type, limit_type=limit_type),
        error=error,
        error_type=error_type,
        limit_type=limit_type,
        started_at=started,
        completed_at=completed,
        total_seconds=seconds_between(started, completed),
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=prompt + completion if prompt is not None and completion is not None else None,
        metadata={k: v for k, v in metadata.items() if v is not None},
        messages=messages,
    )
    yield SourceInfo(notes=notes)


LOADER = Loader(
    name="atif",
    description="Harbor ATIF trajectory.json (steps with tool calls and observations)",
    sniff=sniff,
    load=load,
    companion=companion,
    priority=20,
    extensions=(".json",),
)
