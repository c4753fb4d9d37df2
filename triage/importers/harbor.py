"""Harbor loader (``harbor``): one trial folder of a Harbor job is one run, read from its ``result.json``.

A Harbor job folder holds the job's ``result.json`` (``n_total_trials``, ``stats``) and one folder per
trial with the trial's ``result.json`` (``task_name``, ``trial_name``, ``agent_info``, ``agent_result``
tokens and cost, ``verifier_result.rewards.reward``, ``exception_info``, phase timings), the agent's ATIF
trajectory at ``agent/trajectory.json`` and the verifier's output under ``verifier/`` (``reward.txt``, a
CTRF test report ``ctrf.json``, ``test-stdout.txt``).

- The transcript is the ATIF trajectory, parsed by :mod:`triage.importers.atif` (continuations included);
  a trial without one imports as a verdict-only run.
- Score: ``verifier_result.rewards.reward`` (or the only reward), else ``verifier/reward.txt``; success
  at ``score >= 1.0`` or the task's threshold.
- ``exception_info``, by the terminal-bench paper's rule: an agent timeout is a time limit and a verifier
  timeout a verifier time limit (the model's failure); any other exception is an infrastructure error
  (status ``error``, ``error_type`` the exception type), not a model failure.
- The CTRF report's summary and its failed tests (name, message) are kept in metadata as the verifier's
  evidence, with the tail of the verifier's stdout; the failed tests also as ``failed_checks``
  (``{"check": "test", "name"}``, the tau2-bench loader's shape).

The job's ``result.json`` names every trial in ``stats.evals.<agent>__<model>__<dataset>``
(``reward_stats``, ``exception_stats``): the trials it names whose folder is absent import from it as
verdict-only runs (the others are imported from their own folders).

Run id: ``harbor/<trial_name>`` (Harbor's trial names carry a random suffix). The trajectory, the
verifier's files and the trial's other files are companions: a directory walk passes over them quietly,
as it does over the job's ``config.json`` and logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from triage.importers import atif
from triage.importers._common import number, parse_iso, read_json, seconds_between, top_level_keys
from triage.importers.base import SNIFF_BYTES, Item, Loader, LoadError, LoadOptions, SourceInfo
from triage.models import Run
from triage.outcomes import binarise, derive_status

NAME = "harbor"
# Fields of Harbor's TrialResult beside trial_name (the first few open the file, so a truncated one sniffs).
TRIAL_FIELDS = {"task_name", "trial_uri", "task_checksum", "verifier_result", "exception_info", "agent_result",
                "agent_info"}  # fmt: skip
_LIMIT_EXCEPTIONS = {"AgentTimeoutError": "time", "VerifierTimeoutError": "verifier_time"}
MAX_FAILED_TESTS = 50
TAIL_CHARS = 4000
COMPANION_LEVELS = 4  # files up to four folders below a trial (agent/sessions/..., verifier/...)


def _is_trial_head(head: bytes) -> bool:
    keys = set(top_level_keys(head))
    return "trial_name" in keys and bool(keys & TRIAL_FIELDS)


def _is_job_head(head: bytes) -> bool:
    keys = set(top_level_keys(head))
    return "n_total_trials" in keys or ("stats" in keys and "trial_name" not in keys and b'"evals"' in head)


def sniff(path: Path, head: bytes) -> bool:
    return path.name == "result.json" and (_is_trial_head(head) or _is_job_head(head))


def explain(path: Path, head: bytes) -> str | None:
    """Why :func:`sniff` refused a file with something of Harbor in it (None: nothing of it)."""
    keys = set(top_level_keys(head))
    if "trial_name" in keys:
        return "a result with 'trial_name' but none of a Harbor trial's fields (task_name, verifier_result, ...)"
    if "stats" in keys or "n_total_trials" in keys:
        return "a result with 'stats' but no 'evals' or 'n_total_trials' (a Harbor job's result)"
    return None


@lru_cache(maxsize=4096)
def _holds(folder: Path, kind: str) -> bool:
    try:
        with open(folder / "result.json", "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    return _is_trial_head(head) if kind == "trial" else _is_job_head(head)


def trial_folder(path: Path) -> Path | None:
    """The Harbor trial folder ``path`` lies in (up to four levels up), or None."""
    folder = path.parent
    for _ in range(COMPANION_LEVELS):
        if _holds(folder, "trial"):
            return folder
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def companion(path: Path, head: bytes) -> bool:
    """A trial's other files (trajectory, verifier reports, logs) and the job's own files."""
    if path.name != "result.json" and trial_folder(path) is not None:
        return True
    return path.name in ("config.json", "job.log") and _holds(path.parent, "job")


# --- outcome --------------------------------------------------------------------------------------


def _reward(path: Path, result: dict[str, Any]) -> tuple[float | None, Any, str | None]:
    verifier = result.get("verifier_result")
    if verifier is not None and not isinstance(verifier, dict):
        raise LoadError(
            path, "field 'verifier_result'", f"expected an object with 'rewards' or null, got {verifier!r:.80}"
        )
    if isinstance(verifier, dict):
        rewards = verifier.get("rewards")
        if rewards is not None and not isinstance(rewards, dict):
            raise LoadError(
                path,
                "field 'verifier_result.rewards'",
                f"expected an object of reward name -> number, got {rewards!r:.80}",
            )
        if rewards:
            if "reward" in rewards and rewards["reward"] is not None and number(rewards["reward"]) is None:
                raise LoadError(
                    path, "field 'verifier_result.rewards.reward'", f"expected a number, got {rewards['reward']!r:.80}"
                )
            score, raw = atif._reward_from(verifier)
            return score, raw, "verifier_result.rewards"
    reward_txt = path.parent / "verifier" / "reward.txt"
    if reward_txt.is_file():
        text = reward_txt.read_text(errors="replace").strip()
        try:
            return float(text), {"reward.txt": text}, "verifier/reward.txt"
        except ValueError:
            raise LoadError(reward_txt, "line 1", f"expected a number, got {text[:80]!r}") from None
    return None, verifier, None


def _exception(path: Path, result: dict[str, Any]) -> dict[str, Any]:
    info = result.get("exception_info")
    if info is None:
        return {}
    if not isinstance(info, dict):
        raise LoadError(
            path, "field 'exception_info'", f"expected an object with 'exception_type' or null, got {info!r:.80}"
        )
    kind = info.get("exception_type")
    if kind is not None and not isinstance(kind, str):
        raise LoadError(path, "field 'exception_info.exception_type'", f"expected a string, got {kind!r:.80}")
    message = info.get("exception_message") if isinstance(info.get("exception_message"), str) else None
    limit = _LIMIT_EXCEPTIONS.get(kind or "")
    if limit is not None:
        return {"limit_type": limit, "error_type": kind, "exception_message": message}
    return {"error": message or kind or "exception", "error_type": kind or "exception", "infrastructure_error": True}


def _failed_checks(verifier_tests: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """The CTRF report's failed tests in the shape tau2-bench's loader writes (``{"check": "test", "name"}``;
    their messages stay in ``verifier_tests``)."""
    failed = (verifier_tests or {}).get("failed") or []
    return [{"check": "test", "name": t["name"]} for t in failed if t.get("name")] or None


def _ctrf(trial: Path) -> dict[str, Any] | None:
    """Summary and failed tests of the verifier's CTRF report (evidence; a broken report is noted)."""
    report = trial / "verifier" / "ctrf.json"
    if not report.is_file():
        return None
    try:
        doc = orjson.loads(report.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        return {"report": str(report), "unreadable": str(exc)}
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, dict):
        return {"report": str(report), "unreadable": "no 'results' object"}
    tests = results.get("tests") if isinstance(results.get("tests"), list) else []
    failed = [
        {k: t.get(k) for k in ("name", "status", "message", "trace") if isinstance(t.get(k), str)}
        for t in tests
        if isinstance(t, dict) and t.get("status") not in ("passed", "skipped", "pending")
    ]
    for test in failed:
        for key in ("message", "trace"):
            if key in test and len(test[key]) > 2000:
                test[key] = test[key][:2000] + "…"
    return {
        "report": str(report),
        "summary": results.get("summary") if isinstance(results.get("summary"), dict) else None,
        "failed": failed[:MAX_FAILED_TESTS],
        "n_failed_listed": len(failed),
    }


def _tail(path: Path) -> str | None:
    if not path.is_file():
        return None
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - TAIL_CHARS * 2))
        return fh.read().decode("utf-8", errors="replace")[-TAIL_CHARS:]


def _text(result: dict[str, Any], *keys: str) -> str | None:
    value: Any = result
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) and value else None


def _load_job(path: Path, job: dict[str, Any], options: LoadOptions) -> Iterator[Item]:
    """Verdict-only runs for the trials a job's ``stats`` name but whose folder is absent."""
    stats = job.get("stats")
    if not isinstance(stats, dict) or not isinstance(stats.get("evals", {}), dict):
        raise LoadError(path, "field 'stats.evals'", "expected an object of eval name -> trial statistics")
    delegated = 0
    for eval_name, entry in (stats.get("evals") or {}).items():
        place = f"stats.evals.{eval_name}"
        if not isinstance(entry, dict):
            raise LoadError(path, place, f"expected an object (reward_stats, exception_stats), got {entry!r:.80}")
        # Harbor names an eval <agent>__<model>__<dataset>.
        parts = eval_name.split("__")
        model = parts[1] if len(parts) >= 2 else None
        agent = options.agent or "/".join(parts[:2]) or eval_name
        trials: dict[str, dict[str, Any]] = {}
        reward_stats = entry.get("reward_stats") or {}
        if not isinstance(reward_stats, dict):
            raise LoadError(path, f"{place}.reward_stats", f"expected an object, got {reward_stats!r:.80}")
        rewards = reward_stats.get("reward", next(iter(reward_stats.values()), {}) if len(reward_stats) == 1 else {})
        if not isinstance(rewards or {}, dict):
            raise LoadError(
                path, f"{place}.reward_stats", f"expected an object of reward -> trial names, got {rewards!r:.80}"
            )
        for value, names in (rewards or {}).items():
            try:
                score = float(value)
            except ValueError:
                raise LoadError(path, f"{place}.reward_stats", f"expected numeric reward keys, got {value!r}") from None
            for name in names if isinstance(names, list) else []:
                trials.setdefault(str(name), {})["score"] = score
        exception_stats = entry.get("exception_stats") or {}
        if not isinstance(exception_stats, dict):
            raise LoadError(
                path,
                f"{place}.exception_stats",
                f"expected an object of exception -> trial names, got {exception_stats!r:.80}",
            )
        for kind, names in exception_stats.items():
            for name in names if isinstance(names, list) else []:
                trials.setdefault(str(name), {})["exception"] = str(kind)
        for name, facts in sorted(trials.items()):
            if _holds(path.parent / name, "trial"):
                delegated += 1  # imported with its transcript from its own result.json
                continue
            score = facts.get("score")
            success = binarise(score)
            failure = (
                _exception(path, {"exception_info": {"exception_type": facts["exception"]}})
                if "exception" in facts
                else {}
            )
            yield Run(
                id=f"{NAME}/{name}",
                task_id=name.rsplit("__", 1)[0],
                sample_id=name,
                agent=agent,
                model=model,
                score=score,
                success=success,
                status=derive_status(
                    success,
                    error=failure.get("error"),
                    error_type=failure.get("error_type"),
                    limit_type=failure.get("limit_type"),
                ),  # fmt: skip
                error=failure.get("error"),
                error_type=failure.get("error_type"),
                limit_type=failure.get("limit_type"),
                metadata={"job_result": str(path), "eval": eval_name, "verdict_only": True},
            )
    notes = [f"{delegated} trials imported from their own folders"] if delegated else []
    yield SourceInfo(log_status="success", notes=notes)


def load(path: Path, options: LoadOptions) -> Iterator[Item]:
    result = read_json(path)
    if isinstance(result, dict) and "trial_name" not in result and ("stats" in result or "n_total_trials" in result):
        yield from _load_job(path, result, options)
        return
    if not isinstance(result, dict):
        raise LoadError(path, None, f"expected a Harbor trial result object, got {type(result).__name__}")
    trial_name = result.get("trial_name")
    if not isinstance(trial_name, str) or not trial_name:
        raise LoadError(path, "field 'trial_name'", f"expected the trial's name (a string), got {trial_name!r:.80}")
    trial = path.parent
    score, score_raw, reward_source = _reward(path, result)
    failure = _exception(path, result)
    success = binarise(score)
    status = derive_status(
        success, error=failure.get("error"), error_type=failure.get("error_type"), limit_type=failure.get("limit_type")
    )

    messages: list = []
    trajectory_run: Run | None = None
    trajectory = trial / "agent" / "trajectory.json"
    if trajectory.is_file():
        # The ATIF loader's own parsing (steps, tool calls, continuations); its Run carries the transcript.
        trajectory_run = next(r for r in atif.load(trajectory, LoadOptions()) if isinstance(r, Run))
        messages = trajectory_run.messages

    agent_result = result.get("agent_result") if isinstance(result.get("agent_result"), dict) else {}
    n_in, n_out = number(agent_result.get("n_input_tokens")), number(agent_result.get("n_output_tokens"))
    model = (
        _text(result, "config", "agent", "model_name")
        or _text(result, "agent_info", "model_info", "name")
        or (trajectory_run.model if trajectory_run else None)
    )
    agent_name = _text(result, "agent_info", "name") or _text(result, "config", "agent", "name")
    agent = options.agent or "/".join(p for p in (agent_name, model) if p) or trial.parent.name
    started, finished = result.get("started_at"), result.get("finished_at")
    if not parse_iso(started) and trajectory_run is not None:  # older results: the trajectory's own times
        started, finished = trajectory_run.started_at, trajectory_run.completed_at
    execution = result.get("agent_execution") if isinstance(result.get("agent_execution"), dict) else {}
    verifier_tests = _ctrf(trial)
    metadata: dict[str, Any] = {
        "trial_uuid": result.get("id"),
        "job_id": _text(result, "config", "job_id"),
        "source": result.get("source") if isinstance(result.get("source"), str) else None,
        "agent_version": _text(result, "agent_info", "version"),
        "cost_usd": number(agent_result.get("cost_usd")),
        "cache_tokens": number(agent_result.get("n_cache_tokens")),
        "reward_source": reward_source,
        "exception_message": failure.get("exception_message"),
        "exception_traceback": _text(result, "exception_info", "exception_traceback"),
        "infrastructure_error": failure.get("infrastructure_error"),
        "verifier_seconds": seconds_between(*(_text(result, "verifier", k) for k in ("started_at", "finished_at"))),
        "verifier_tests": verifier_tests,
        "failed_checks": _failed_checks(verifier_tests),
        "verifier_stdout_tail": _tail(trial / "verifier" / "test-stdout.txt"),
        "trajectory": str(trajectory) if trajectory_run else None,
        "session_id": trajectory_run.sample_id if trajectory_run else None,
    }
    yield Run(
        id=f"{NAME}/{trial_name}",
        task_id=_text(result, "task_name") or trial_name.rsplit("__", 1)[0],
        sample_id=trial_name,
        agent=agent,
        model=model,
        score=score,
        score_raw=score_raw,
        success=success,
        status=status,
        error=failure.get("error"),
        error_type=failure.get("error_type"),
        limit_type=failure.get("limit_type"),
        started_at=started if parse_iso(started) else None,
        completed_at=finished if parse_iso(finished) else None,
        total_seconds=seconds_between(started, finished),
        working_seconds=seconds_between(execution.get("started_at"), execution.get("finished_at")),
        input_tokens=int(n_in) if n_in is not None else (trajectory_run.input_tokens if trajectory_run else None),
        output_tokens=int(n_out) if n_out is not None else (trajectory_run.output_tokens if trajectory_run else None),
        total_tokens=int(n_in + n_out) if n_in is not None and n_out is not None else None,
        metadata={k: v for k, v in metadata.items() if v is not None},
        messages=messages,
    )
    yield SourceInfo(log_status="success")


LOADER = Loader(
    name=NAME,
    description="Harbor job folders: trial result.json with the ATIF trajectory and verifier reports",
    sniff=sniff,
    load=load,
    companion=companion,
    explain=explain,
    priority=15,
    extensions=("result.json",),
)
