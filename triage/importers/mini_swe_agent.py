"""mini-swe-agent trajectory loader (``mini-swe-agent``): one ``<id>.traj.json`` file is one run.

The format (``trajectory_format: mini-swe-agent-1``) keeps plain chat ``messages``: the model's action is
the one fenced ```` ```bash ```` block in its reply, and the environment answers in a user message with
``<returncode>`` and ``<output>`` (or a timeout notice). Each action becomes a ``bash`` tool call and each
answer its tool result (role ``tool``; the raw text is kept, and a non-zero return code or a timeout is
recorded as the message's error). A reply without exactly one bash block is a format error in
mini-swe-agent: it gets no tool call and the harness's complaint stays a user message.

Pass/fail comes from ``results_summary.json`` or ``logs/<id>/report.json`` found by walking up from the
trajectory (or named with ``--results``). Run ids are ``mini-swe-agent/<model>/<instance_id>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from triage.importers import swebench_results
from triage.importers._common import ancestors, as_dict, flatten_text, meaningful_dir, number, read_json, top_level_keys
from triage.importers.base import SNIFF_BYTES, Item, Loader, LoadError, LoadOptions, SourceInfo
from triage.models import Message, Run, ToolCall
from triage.outcomes import derive_status

FORMAT_PREFIX = "mini-swe-agent"
SEARCH_LEVELS = 4
TAIL_BYTES = 4096
# mini-swe-agent's own action regex: exactly one block is an action, anything else a format error.
_BASH_BLOCK = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)
_RETURNCODE = re.compile(r"^\s*<returncode>\s*(-?\d+)\s*</returncode>")
_OUTPUT = re.compile(r"<output>\n?(.*?)</output>", re.DOTALL)
_TIMEOUT = re.compile(r"^\s*The last command <command>.*?</command> timed out", re.DOTALL)
_FORMAT_VALUE = re.compile(rb'"trajectory_format"\s*:\s*"mini-swe-agent')
ERROR_CHARS = 2000
# exit statuses that mean a budget ran out rather than a crash
_LIMITS = {
    "LimitsExceeded": "steps",
    "CostLimitExceeded": "cost",
    "TimeoutError": "time",
    "ContextWindowExceeded": "context",
}
_NORMAL = {"Submitted", "submitted"}


def sniff(path: Path, head: bytes) -> bool:
    if path.suffix.lower() != ".json":
        return False
    if _FORMAT_VALUE.search(head):
        return True
    # trajectory_format is written after the (long) info and messages: look at the file's tail.
    if "info" not in top_level_keys(head) or len(head) < SNIFF_BYTES:
        return False
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - TAIL_BYTES))
        return _FORMAT_VALUE.search(fh.read()) is not None


def companion(path: Path, head: bytes) -> bool:
    """results_summary.json, report.json and other non-trajectory JSON under a ``logs/`` folder."""
    if path.suffix.lower() != ".json" or sniff(path, head):
        return False
    if path.name in ("results_summary.json", "report.json"):
        return True
    return "logs" in path.parts and not path.name.endswith(".traj.json")


def _results_candidates(path: Path, instance_id: str, options: LoadOptions) -> list[Path]:
    named = [Path(p) for p in options.companions]
    found: list[Path] = []
    for folder in ancestors(path, SEARCH_LEVELS):
        found += [folder / "logs" / instance_id / "report.json", folder / "results_summary.json"]
    return named + found


def _model(doc: dict[str, Any]) -> str | None:
    model = as_dict(as_dict(doc.get("info")).get("config")).get("model")
    name = model.get("model_name") if isinstance(model, dict) else None
    return name if isinstance(name, str) and name else None


def _observation(content: str) -> tuple[str | None, int | None]:
    """``(error, returncode)`` of an environment answer: an error for a non-zero code or a timeout."""
    if _TIMEOUT.match(content):
        return "command timed out", None
    match = _RETURNCODE.match(content)
    if not match:
        return None, None
    code = int(match.group(1))
    if code == 0:
        return None, 0
    output = _OUTPUT.search(content)
    text = (output.group(1) if output else content[match.end() :]).strip()
    tail = text[-ERROR_CHARS:]
    return (f"returncode {code}" + (f": {tail}" if tail else "")), code


def _messages(path: Path, raw: Any) -> list[Message]:
    if not isinstance(raw, list):
        raise LoadError(path, "field 'messages'", "expected a list of messages")
    messages: list[Message] = []
    pending: ToolCall | None = None
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise LoadError(path, f"messages[{index}]", f"expected an object, got {type(entry).__name__}")
        role = entry.get("role")
        content = flatten_text(entry.get("content"))
        if role == "system":
            messages.append(Message(role="system", content=content))
        elif role == "assistant":
            blocks = _BASH_BLOCK.findall(content)
            calls = (
                [ToolCall(id=f"call_{index}", function="bash", arguments={"command": blocks[0]})]
                if len(blocks) == 1
                else []
            )
            messages.append(Message(role="assistant", content=content, tool_calls=calls))
            pending = calls[0] if calls else None
        elif role in ("user", "tool"):
            if pending is not None:
                # The environment's answer to the action: returncode/output, a timeout, or (after the
                # submit command) the submitted diff itself.
                error, _ = _observation(content)
                messages.append(
                    Message(role="tool", content=content, tool_call_id=pending.id, function="bash", error=error)
                )
            else:
                messages.append(Message(role="user", content=content))
            pending = None
        else:
            raise LoadError(
                path, f"messages[{index}], field 'role'", f"expected system, user or assistant, got {role!r}"
            )
    return messages


def load(path: Path, options: LoadOptions) -> Iterator[Item]:
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise LoadError(path, None, f"expected a JSON object (a mini-swe-agent trajectory), got {type(doc).__name__}")
    fmt = doc.get("trajectory_format")
    if fmt is not None and not (isinstance(fmt, str) and fmt.startswith(FORMAT_PREFIX)):
        raise LoadError(path, "field 'trajectory_format'", f"expected mini-swe-agent-1, got {fmt!r}")
    info = doc.get("info") or {}
    if not isinstance(info, dict):
        raise LoadError(path, "field 'info'", f"expected an object, got {type(info).__name__}")
    instance_id = doc.get("instance_id")
    if not isinstance(instance_id, str) or not instance_id:
        instance_id = path.name.removesuffix(".json").removesuffix(".traj")
    model = _model(doc)
    agent = options.agent or model or meaningful_dir(path) or "mini-swe-agent"
    messages = _messages(path, doc.get("messages"))

    exit_status = info.get("exit_status")
    exit_status = str(exit_status) if exit_status is not None else None
    resolved, results_path = swebench_results.find_verdict(instance_id, _results_candidates(path, instance_id, options))
    limit_type = _LIMITS.get(exit_status or "")
    error_type = exit_status if exit_status and exit_status not in _NORMAL else None
    error = None
    if error_type and not limit_type:
        detail = info.get("traceback") or info.get("exception_str") or info.get("error")
        error = (
            (str(detail).strip().splitlines() or [f"exit status {exit_status}"])[-1]
            if detail
            else f"exit status {exit_status}"
        )
    stats = as_dict(info.get("model_stats"))
    submission = info.get("submission")
    metadata: dict[str, Any] = {
        "results_file": str(results_path) if results_path else None,
        "cost_usd": number(stats.get("instance_cost")),
        "api_calls": number(stats.get("api_calls")),
        "mini_version": info.get("mini_version"),
        "trajectory_format": fmt,
        "format_errors": sum(
            1 for m in doc.get("messages") or []
            if isinstance(m, dict) and m.get("role") == "assistant"
            and len(_BASH_BLOCK.findall(flatten_text(m.get("content")))) != 1
        ),
    }  # fmt: skip
    yield Run(
        id=f"mini-swe-agent/{agent}/{instance_id}",
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
        metadata={k: v for k, v in metadata.items() if v is not None},
        messages=messages,
    )
    yield SourceInfo(log_status=exit_status)


LOADER = Loader(
    name="mini-swe-agent",
    description="mini-swe-agent trajectories (*.traj.json, trajectory_format mini-swe-agent-1)",
    sniff=sniff,
    load=load,
    companion=companion,
    priority=15,
    extensions=(".json",),
)
