"""tau2-bench loader (``tau2-bench``): a results JSON (``info``, ``tasks[]``, ``simulations[]``).

One simulation is one run. The file is streamed (ijson): ``info`` and ``tasks`` are read first (tau2
writes them before the simulations), then one simulation at a time, so memory follows the largest
simulation, not the file.

- Messages: ``assistant``/``user`` turns with flat ``tool_calls`` (``{id, name, arguments, requestor}``)
  and ``tool`` results (``id`` = the call's id, ``error`` true when the tool failed). Calls the simulated
  user makes (``requestor: user``, telecom's device tools) are the environment's doing, not the agent's:
  they and their results are kept as user messages.
- ``reward_info.reward`` is the score (a success at 1, tau2's 1e-6 tolerance). The failed checks are the
  evidence, kept in metadata ``failed_checks``: a database mismatch (``db_check``), expected actions not
  taken (``action_checks``), unmet ``env_assertions`` and ``nl_assertions`` (with the judge's
  justification), and information not communicated (``communicate_checks``); ``reward_breakdown`` too.
  The task's ``evaluation_criteria`` (expected actions, information to communicate, assertions) are the
  run's ``target`` (JSON).
- ``termination_reason``: ``user_stop``/``agent_stop`` end normally; ``max_steps`` is a step limit;
  ``too_many_errors``, ``agent_error``, ``user_error`` and any other reason are errors.
- Agent ``<agent implementation>/<agent llm>`` from ``info.agent_info`` (or ``--agent``), model the llm;
  task id ``<domain>/<task id>``; epoch the ``trial``; run id ``tau2-bench/<file stem>/<simulation id>``.

The voice shape: ``results.json`` without ``simulations`` and one ``simulations/<id>.json`` per
simulation (``ticks`` of agent/user chunks instead of messages). Each simulation file is read in turn;
their text chunks make the transcript, and without ``reward_info`` (the fixture published has none)
success is unknown. The simulation files are companions of the results file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from triage.importers._common import (
    as_list,
    flatten_text,
    number,
    parse_iso,
    read_json,
    stream_sections,
    top_level_keys,
)
from triage.importers.base import SNIFF_BYTES, Item, Loader, LoadError, LoadOptions, SourceInfo
from triage.models import Message, Run, ToolCall
from triage.outcomes import derive_status

NAME = "tau2-bench"
SUCCESS_TOLERANCE = 1e-6
_NORMAL_END = {"user_stop", "agent_stop"}
_LIMITS = {"max_steps": "steps"}
MAX_SIM_FILES_NOTED = 20


def _is_results_head(head: bytes) -> bool:
    keys = set(top_level_keys(head))
    # ``info`` (with its agent/user/environment records) opens the file; tasks and simulations may lie
    # past the sniffed head behind a long policy text.
    return "info" in keys and b'"environment_info"' in head and (b'"agent_info"' in head or b'"user_info"' in head)


def _is_simulation_head(head: bytes) -> bool:
    keys = set(top_level_keys(head))
    return {"task_id", "termination_reason"} <= keys and ("ticks" in keys or "messages" in keys or "trial" in keys)


def sniff(path: Path, head: bytes) -> bool:
    return path.suffix.lower() == ".json" and _is_results_head(head)


def explain(path: Path, head: bytes) -> str | None:
    """Why :func:`sniff` refused a file with something of tau2-bench in it (None: nothing of it)."""
    keys = set(top_level_keys(head))
    if "simulations" in keys or ("info" in keys and "tasks" in keys):
        return "'info' does not open the file with agent_info/user_info/environment_info (as tau2-bench writes it)"
    if _is_simulation_head(head):
        return "one simulation; tau2-bench results are the file with 'info', 'tasks' and 'simulations'"
    return None


def _is_submission_head(head: bytes) -> bool:
    keys = set(top_level_keys(head))
    return {"model_name", "results"} <= keys and bool(
        {"submission_type", "methodology", "trajectories_available"} & keys
    )


def _submission(path: Path) -> dict[str, Any]:
    """The leaderboard ``submission.json`` of a ``submissions/<name>/trajectories/*.json`` file, if any."""
    for folder in (path.parent, path.parent.parent):
        candidate = folder / "submission.json"
        if candidate.is_file():
            try:
                doc = orjson.loads(candidate.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                return {}
            return doc if isinstance(doc, dict) and isinstance(doc.get("model_name"), str) else {}
    return {}


def companion(path: Path, head: bytes) -> bool:
    """A voice run's ``simulations/<id>.json`` beside its ``results.json``; a leaderboard submission's
    ``submission.json`` beside its ``trajectories/`` (it names the agent)."""
    if path.name == "submission.json" and _is_submission_head(head) and (path.parent / "trajectories").is_dir():
        return True
    if path.parent.name != "simulations" or path.suffix.lower() != ".json" or not _is_simulation_head(head):
        return False
    for candidate in path.parent.parent.glob("*.json"):
        try:
            with open(candidate, "rb") as fh:
                if _is_results_head(fh.read(SNIFF_BYTES)):
                    return True
        except OSError:
            continue
    return False


# --- one simulation ---------------------------------------------------------------------------------


def _fail(path: Path, place: str, field: str, expected: str, value: Any) -> LoadError:
    return LoadError(path, f"{place}, field {field!r}", f"expected {expected}, got {value!r:.80}")


def _messages(path: Path, place: str, raw: Any) -> list[Message]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _fail(path, place, "messages", "a list of messages", raw)
    messages: list[Message] = []
    user_calls: set[str] = set()
    names: dict[str, str] = {}
    for index, msg in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(msg, dict):
            raise _fail(path, place, where, "a message object", msg)
        role = msg.get("role")
        content = flatten_text(msg.get("content"))
        calls = msg.get("tool_calls") or []
        if not isinstance(calls, list):
            raise _fail(path, place, f"{where}.tool_calls", "a list of {id, name, arguments}", calls)
        if role in ("assistant", "user", "system"):
            parsed: list[ToolCall] = []
            for n, call in enumerate(calls):
                if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                    raise _fail(path, place, f"{where}.tool_calls[{n}].name", "a tool name (string)", call)
                call_id = str(call.get("id") or f"call_{index}_{n}")
                names[call_id] = call["name"]
                parsed.append(ToolCall(id=call_id, function=call["name"], arguments=call.get("arguments")))
            if role == "assistant" and all(c.get("requestor", "assistant") != "user" for c in calls):
                messages.append(Message(role="assistant", content=content, tool_calls=parsed))
            else:
                # The simulated user's own tool calls are the environment acting, not the agent.
                user_calls.update(c.id for c in parsed if c.id)
                text = "\n".join([content] * bool(content) + [
                    f"[user tool call] {c.function}({orjson.dumps(c.arguments).decode()})" for c in parsed
                ])  # fmt: skip
                messages.append(Message(role="user" if role != "system" else "system", content=text))
        elif role == "tool":
            call_id = str(msg.get("id")) if msg.get("id") is not None else None
            failed = msg.get("error") is True
            if call_id in user_calls or msg.get("requestor") == "user":
                messages.append(Message(role="user", content=f"[user tool result] {content}"))
            else:
                messages.append(
                    Message(role="tool", content=content, tool_call_id=call_id, function=names.get(call_id or ""),
                            error=content if failed else None)
                )  # fmt: skip
        else:
            raise _fail(path, place, f"{where}.role", "assistant, user, tool or system", role)
    return messages


def _failed_checks(reward_info: dict[str, Any]) -> list[dict[str, Any]]:
    """Every check the evaluation recorded as failed, with what was expected."""
    failed: list[dict[str, Any]] = []
    db = reward_info.get("db_check")
    if isinstance(db, dict) and db.get("db_match") is False:
        failed.append({"check": "db", "detail": "final database differs from the expected one"})
    for check in as_list(reward_info.get("action_checks")):
        if isinstance(check, dict) and check.get("action_match") is False:
            action = check.get("action") if isinstance(check.get("action"), dict) else {}
            failed.append({"check": "action", "name": action.get("name"), "arguments": action.get("arguments"),
                           "requestor": action.get("requestor")})  # fmt: skip
    for check in as_list(reward_info.get("env_assertions")):
        if isinstance(check, dict) and check.get("met") is False:
            failed.append({"check": "env_assertion", "assertion": check.get("env_assertion")})
    for check in as_list(reward_info.get("nl_assertions")):
        if isinstance(check, dict) and check.get("met") is False:
            failed.append({"check": "nl_assertion", "assertion": check.get("nl_assertion"),
                           "justification": check.get("justification")})  # fmt: skip
    for check in as_list(reward_info.get("communicate_checks")):
        if isinstance(check, dict) and check.get("met") is False:
            failed.append({"check": "communicate", "info": check.get("info"),
                           "justification": check.get("justification")})  # fmt: skip
    return failed


def _target(task: dict[str, Any] | None) -> str | None:
    criteria = task.get("evaluation_criteria") if isinstance(task, dict) else None
    if not isinstance(criteria, dict):
        return None
    keep = {
        k: criteria.get(k) for k in ("actions", "communicate_info", "env_assertions", "nl_assertions", "reward_basis")
    }
    keep = {k: v for k, v in keep.items() if v}
    return orjson.dumps(keep).decode() if keep else None


def _run(path: Path, place: str, sim: Any, ctx: dict[str, Any], options: LoadOptions) -> Run:
    if not isinstance(sim, dict):
        raise LoadError(path, place, f"expected a simulation object, got {type(sim).__name__}")
    sim_id = sim.get("id")
    if not isinstance(sim_id, str) or not sim_id:
        raise _fail(path, place, "id", "the simulation id (a string)", sim_id)
    task_id = sim.get("task_id")
    if not isinstance(task_id, str | int) or isinstance(task_id, bool):
        raise _fail(path, place, "task_id", "a task id", task_id)
    trial = sim.get("trial")
    if isinstance(trial, str) and trial.strip().isdigit():
        trial = int(trial)  # the voice shape writes numbers as strings
    if trial is not None and (isinstance(trial, bool) or not isinstance(trial, int)):
        raise _fail(path, place, "trial", "an integer", trial)
    reward_info = sim.get("reward_info")
    if reward_info is not None and not isinstance(reward_info, dict):
        raise _fail(path, place, "reward_info", "an object with 'reward'", reward_info)
    score = None
    if reward_info is not None:
        score = number(reward_info.get("reward"))
        if score is None and reward_info.get("reward") is not None:
            raise _fail(path, place, "reward_info.reward", "a number", reward_info.get("reward"))
    success = None if score is None else abs(score - 1.0) <= SUCCESS_TOLERANCE or score > 1.0
    reason = sim.get("termination_reason")
    if reason is not None and not isinstance(reason, str):
        raise _fail(path, place, "termination_reason", "a string", reason)
    limit_type = _LIMITS.get(reason or "")
    error = error_type = None
    if reason and reason not in _NORMAL_END and limit_type is None:
        error_type, error = reason, f"simulation ended: {reason}"
    messages = _messages(path, place, sim.get("messages")) if "messages" in sim else _tick_messages(sim.get("ticks"))
    domain = ctx.get("domain")
    task = ctx["tasks"].get(str(task_id))
    duration = sim.get("duration")
    metadata = {
        "termination_reason": reason,
        "failed_checks": _failed_checks(reward_info) if reward_info else None,
        "reward_breakdown": reward_info.get("reward_breakdown") if reward_info else None,
        "reward_basis": reward_info.get("reward_basis") if reward_info else None,
        "not_evaluated": True if reward_info is None else None,
        "agent_cost": number(sim.get("agent_cost")),
        "user_cost": number(sim.get("user_cost")),
        "user_model": ctx.get("user_model"),
        "agent_llm": ctx.get("model"),
        "submission": ctx.get("submission"),
        "domain": domain,
        "mode": sim.get("mode") if isinstance(sim.get("mode"), str) else None,
        "task_purpose": (task.get("description") or {}).get("purpose")
        if isinstance(task, dict) and isinstance(task.get("description"), dict)
        else None,
        "place": place,
    }
    start, end = sim.get("start_time"), sim.get("end_time")
    try:
        seconds = float(duration) if duration is not None and not isinstance(duration, bool) else None
    except (TypeError, ValueError):
        raise _fail(path, place, "duration", "a number of seconds", duration) from None
    return Run(
        id=f"{NAME}/{ctx['stem']}/{sim_id}",
        task_id=f"{domain}/{task_id}" if domain else str(task_id),
        sample_id=str(task_id),
        epoch=trial,
        agent=options.agent or ctx.get("agent"),
        model=ctx.get("model"),
        score=score,
        score_raw=reward_info,
        success=success,
        status=derive_status(success, error=error, error_type=error_type, limit_type=limit_type),
        error=error,
        error_type=error_type,
        limit_type=limit_type,
        limit_value=number(ctx.get("max_steps")) if limit_type == "steps" else None,
        exit_status=reason,
        target=_target(task),
        started_at=start if parse_iso(start) else None,
        completed_at=end if parse_iso(end) else None,
        total_seconds=seconds,
        metadata={k: v for k, v in metadata.items() if v is not None},
        messages=messages,
    )


def _tick_messages(ticks: Any) -> list[Message]:
    """A voice simulation's ticks as a transcript: text spoken (chunk ``content``), consecutive chunks of
    one speaker joined; the agent's tool calls and results of a tick (``agent_tool_calls``,
    ``agent_tool_results``) as calls and tool messages; the user's own tool use as user text."""
    messages: list[Message] = []
    names: dict[str, str] = {}

    def say(role: str, text: str) -> None:
        if messages and messages[-1].role == role and not messages[-1].tool_calls:
            messages[-1].content += text
        else:
            messages.append(Message(role=role, content=text))

    for tick in ticks if isinstance(ticks, list) else []:
        if not isinstance(tick, dict):
            continue
        for side, role in (("user_chunk", "user"), ("agent_chunk", "assistant")):
            chunk = tick.get(side)
            text = flatten_text(chunk.get("content")) if isinstance(chunk, dict) else ""
            if text:
                say(role, text)
        calls = [
            c for c in tick.get("agent_tool_calls") or [] if isinstance(c, dict) and isinstance(c.get("name"), str)
        ]
        if calls:
            parsed = [ToolCall(id=str(c.get("id") or f"tick{tick.get('tick_id')}_{n}"), function=c["name"],
                               arguments=c.get("arguments")) for n, c in enumerate(calls)]  # fmt: skip
            names.update((c.id, c.function) for c in parsed if c.id)
            messages.append(Message(role="assistant", tool_calls=parsed))
        for result in tick.get("agent_tool_results") or []:
            if isinstance(result, dict):
                call_id = str(result["id"]) if result.get("id") is not None else None
                content = flatten_text(result.get("content"))
                messages.append(Message(role="tool", content=content, tool_call_id=call_id,
                                        function=names.get(call_id or ""),
                                        error=content if result.get("error") is True else None))  # fmt: skip
        for call in tick.get("user_tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("name"), str):
                say("user", f"[user tool call] {call['name']}({orjson.dumps(call.get('arguments')).decode()})")
    return messages


def _context(path: Path, info: Any) -> dict[str, Any]:
    if not isinstance(info, dict):
        raise _fail(path, "info", "info", "an object (agent_info, user_info, environment_info)", info)
    agent_info = info.get("agent_info") if isinstance(info.get("agent_info"), dict) else {}
    user_info = info.get("user_info") if isinstance(info.get("user_info"), dict) else {}
    env_info = info.get("environment_info") if isinstance(info.get("environment_info"), dict) else {}
    model = agent_info.get("llm") if isinstance(agent_info.get("llm"), str) else None
    implementation = agent_info.get("implementation") if isinstance(agent_info.get("implementation"), str) else None
    # A leaderboard submission names the system that was evaluated (its llm field may be a placeholder).
    submission = _submission(path)
    methodology = submission.get("methodology") if isinstance(submission.get("methodology"), dict) else {}
    return {
        "stem": path.stem if path.stem != "results" else f"{path.parent.name}",
        "agent": submission.get("model_name") or "/".join(p for p in (implementation, model) if p) or None,
        "submission": {
            k: v
            for k, v in {
                "model_name": submission.get("model_name"),
                "organization": submission.get("model_organization"),
                "submission_type": submission.get("submission_type"),
                "tau2_bench_version": methodology.get("tau2_bench_version"),
                "notes": methodology.get("notes"),
                "verification": methodology.get("verification"),
            }.items()
            if v is not None
        }
        or None,
        "model": model,
        "user_model": user_info.get("llm") if isinstance(user_info.get("llm"), str) else None,
        "domain": env_info.get("domain_name") if isinstance(env_info.get("domain_name"), str) else None,
        "max_steps": info.get("max_steps"),
        "tasks": {},
    }


def load(path: Path, options: LoadOptions) -> Iterator[Item]:
    ctx: dict[str, Any] | None = None
    seen = 0
    has_simulations = False
    expected = "a tau2-bench results object {info, tasks, simulations}"
    for section, value, place in stream_sections(path, ("tasks", "simulations"), expected):
        if section == "info":
            ctx = _context(path, value)
        elif section == "tasks":
            if ctx is None:
                raise LoadError(path, place, "expected 'info' before 'tasks' (as tau2-bench writes it)")
            if isinstance(value, dict) and value.get("id") is not None:
                ctx["tasks"][str(value["id"])] = value
        elif section == "simulations":
            has_simulations = True
            if ctx is None:
                raise LoadError(path, place, "expected 'info' before 'simulations' (as tau2-bench writes it)")
            seen += 1
            yield _run(path, place, value, ctx, options)
    if ctx is None:
        raise LoadError(path, "field 'info'", "missing (expected the run's agent, user and environment info)")
    if not has_simulations:
        folder = path.parent / "simulations"
        files = sorted(folder.glob("*.json")) if folder.is_dir() else []
        for sim_path in files:
            sim = read_json(sim_path)
            seen += 1
            yield _run(sim_path, "simulation", sim, ctx, options)
        if not files:
            raise LoadError(path, "field 'simulations'", "missing, and no simulations/<id>.json beside the file")
    yield SourceInfo(log_status="success", notes=[] if seen else ["no simulations"])


LOADER = Loader(
    name=NAME,
    description="tau2-bench results JSON (info, tasks, simulations with reward checks)",
    sniff=sniff,
    load=load,
    companion=companion,
    explain=explain,
    priority=35,
    extensions=(".json",),
)
