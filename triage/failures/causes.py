"""Causes: one short id per failure saying why it failed, and the detail that tells such failures apart.

:data:`CAUSES` lists the cause ids (``host_unreachable``, ``patch_edits_tests``, ``wrong_answer``...) with
what each means. A detector names the cause its finding stands for in ``detail["cause"]`` (and the
distinguishing evidence in ``detail["cause_detail"]``); :func:`outcome_cause` says what the outcome alone
gives when no detector's evidence is strong enough (wrong answer, failing patch, limit while stalled,
error of a class). :func:`choose` picks a failure's cause from its weighed detections.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import orjson

from triage.failures.context import RunContext, error_line
from triage.failures.normalize import normalize
from triage.failures.signature import answer_tail, limit_kind
from triage.models import Failure

DETAIL_CHARS = 120
CHECK_NAMES = 3  # failed actions or tests named in a check detail; more end in "…"
TROUBLE_WINDOW = 5  # final observations searched for where the run went wrong
ANSWER_CANDIDATES = 2  # earlier replies offered as the answer's detail after the final one
OUTCOME_STRENGTH = 0.4  # what the outcome itself weighs: a finding must be stronger to become the cause
ERROR_STRENGTH = 0.65  # ... when the outcome is an error that ended the run

# id -> what it means. Order is precedence when two findings are equally strong.
CAUSES: dict[str, str] = {
    "sandbox_failed": "the sandbox or container did not start or died",
    "host_unreachable": "the task's external host or service refused or dropped every connection",
    "task_files_missing": "the input files the task names are not in the sandbox (every attempt to read them failed)",
    "provider_error": "the model API failed (rate limit, timeout, 5xx, connection reset)",
    "content_filter": "the provider's usage-policy or content filter stopped the run",
    "context_overflow": "the context window overflowed (incl. the provider's context-length error as the answer)",
    "refusal": "the model declined the task",
    "tool_broken": "a tool or the harness itself failed (crash, exception, empty output for a valid call)",
    "no_tool_call_nudges": "the agent answered without a tool call and the scaffold nudged it again and again",
    "format_misuse": "the harness could not parse the agent's tool call or action",
    "answer_seen_not_submitted": (
        "the correct answer (the target, or a flag-shaped string) was in a tool output but never submitted"
    ),
    "near_miss": "the answer matches the target up to format: possibly a scoring error",
    "patch_empty": "an empty patch was submitted",
    "patch_no_source_change": "the patch changes no library source file (only tests, config, docs or scratch files)",
    "patch_edits_tests": "the patch edits the repository's test files",
    "patch_edits_config": (
        "the patch edits packaging or configuration (setup.py, setup.cfg, pyproject.toml, tox.ini, requirements)"
    ),
    "missing_dependency": "a missing command or module blocked the task",
    "loop": "the same action with the same result, again and again",
    "gave_up": "the agent gave up or submitted a placeholder",
    "guessed_answer": "the submitted answer never appeared in any tool output: a guess",
    "empty_answer": "nothing, or an empty answer, was submitted",
    "patch_fails_tests": "a real patch that the tests scored as failing (wrong fix)",
    "wrong_answer": "a real answer that was scored wrong",
    "limit_stalled": "a usage limit ended the run while the agent was not progressing",
    "limit_progressing": "a usage limit ended the run while the agent was still progressing",
    "limit": "a usage limit ended the run (no transcript to judge progress)",
    "no_submission": "the run ended without an answer",
    "no_verdict": "nothing scored the run: it counts as failed for want of a verdict, not for its answer",
    "score_only": "only a score was recorded (no transcript)",
    "error": "the run errored (``error:<class>`` names the class)",
}
_RANK = {cause: i for i, cause in enumerate(CAUSES)}

_PATCH = re.compile(r"^(?:diff --git |--- a/|Index: )", re.MULTILINE)
_CLASS = re.compile(r"\b((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Timeout|Fault|Failure))\b")


def rank(cause: str | None) -> int:
    """Precedence of a cause id (lower first); ``error:<class>`` ranks as ``error``."""
    if not cause:
        return len(_RANK)
    return _RANK.get(cause.split(":", 1)[0], len(_RANK))


def detail_text(text: str | None) -> str:
    """A detail normalised for grouping: variable parts masked, short."""
    return normalize(text or "", DETAIL_CHARS)


def changed_files(patch: str) -> list[str]:
    """Paths a unified diff changes (``b/`` side, ``/dev/null`` skipped)."""
    files: list[str] = []
    for match in re.finditer(r"^diff --git a/(\S+) b/(\S+)|^\+\+\+ (?:b/)?(\S+)", patch, re.MULTILINE):
        path = match.group(2) or match.group(3)
        if path and path != "/dev/null" and path not in files:
            files.append(path)
    return files


def error_class(text: str) -> str:
    """The exception class an error text names (last component), else its first word."""
    match = _CLASS.search(text[:400])
    if match:
        return match.group(1).rsplit(".", 1)[-1]
    word = re.match(r"[A-Za-z_][\w-]*", text.strip())
    return word.group(0) if word else "unknown"


def outcome_cause(ctx: RunContext, failure: Failure) -> tuple[str, str]:
    """The cause and detail the outcome alone gives, before any detector evidence."""
    if failure.kind == "error":
        raw = failure.raw or failure.signature
        summary = failure.signature.removeprefix("error: ")
        if raw.startswith("exit status "):
            return f"error:{normalize(ctx.exit_status, 40)}", ""
        kind = str(ctx.run.get("error_type") or "") or error_class(raw if ":" in raw[:200] else summary)
        return f"error:{normalize(kind.rsplit('.', 1)[-1], 40)}", detail_text(summary)
    kind = limit_kind(ctx)
    if failure.kind == "limit" or kind is not None:
        if not ctx.messages:
            return "limit", detail_text(kind)
        cause = "limit_progressing" if ctx.progress.get("advancing") else "limit_stalled"
        return cause, _last_trouble(ctx)
    if _unscored(ctx.run) and not str(ctx.run.get("target") or "").strip():
        # Nothing graded the run and there is no target to hold the answer against (an ungraded trajectory,
        # a scorer that never ran): calling it wrong would be a guess. With a target, the answer is compared
        # as for any run (a wrong answer, or a near miss that says the scoring is what is missing).
        return "no_verdict", ""
    if not ctx.messages and not ctx.answer[1].strip():
        return "score_only", ""
    index, answer = ctx.answer
    if not answer.strip():
        return ("empty_answer" if ctx.run.get("submission") is not None else "no_submission"), _last_trouble(ctx)
    checks = check_detail(failed_checks(ctx.run))
    if _PATCH.search(answer[:5000]):
        return "patch_fails_tests", checks or patch_area(changed_files(answer))
    # The verifier's record of what it found wrong says more than the agent's closing words.
    return "wrong_answer", checks or "\n".join(answer_lines(ctx))


def _unscored(run: dict[str, Any]) -> bool:
    """No score, no binarised success and no raw score recorded: nothing graded the run."""
    raw = run.get("score_raw")
    return run.get("score") is None and run.get("success") is None and raw in (None, "", "null", "{}", {})


def failed_checks(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The verifier checks a run's source recorded as failed (``metadata["failed_checks"]``, written by
    the tau-bench, tau2-bench, terminal-bench and Harbor loaders: ``{"check": kind, ...}`` per check)."""
    meta = run.get("metadata")
    if isinstance(meta, str | bytes):
        try:
            meta = orjson.loads(meta)
        except orjson.JSONDecodeError:
            return []
    checks = meta.get("failed_checks") if isinstance(meta, dict) else None
    return [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []


def _check_phrase(check: dict[str, Any]) -> tuple[str, str | None]:
    """What kind of check failed (a short phrase) and the name it concerns (an action, test, output)."""
    kind = str(check.get("check") or "")
    name = check.get("name")
    if kind == "env_assertion" and isinstance(check.get("assertion"), dict):
        name = check["assertion"].get("func_name")
    phrase = {
        "db": "db mismatch",
        "action": "action not taken",
        "env_assertion": "env assertion failed",
        "nl_assertion": "nl assertion not met",  # the assertion's wording is the task's, not the failure's
        "communicate": "info not communicated",
        "output": "output missing",
        "test": "failed test",
    }.get(kind, f"{kind or 'check'} failed")
    return phrase, str(name) if isinstance(name, str | int) and str(name).strip() else None


def check_detail(checks: list[dict[str, Any]]) -> str:
    """The failed checks as one short normalised detail, e.g. ``db mismatch; action not taken:
    book_reservation`` or ``failed test: test_output_format``; '' when there are none."""
    names: dict[str, list[str]] = {}
    for check in checks:
        phrase, name = _check_phrase(check)
        found = names.setdefault(phrase, [])
        name = detail_text(name) if name else ""  # masked first: test_case_1 and test_case_2 are one name
        if name and name not in found:
            found.append(name)
    parts = []
    for phrase, found in names.items():
        shown = sorted(found)[:CHECK_NAMES]
        more = ", …" if len(found) > len(shown) else ""  # how many more would split alike failures
        parts.append(f"{phrase}: {', '.join(shown)}{more}" if shown else phrase)
    return detail_text("; ".join(parts))


def patch_area(files: list[str]) -> str:
    """What a patch touches, as a grouping detail: the package directories of its source files."""
    dirs = sorted({f.rsplit("/", 1)[0] if "/" in f else f for f in files})
    return detail_text(" ".join(dirs[:4]))


def answer_lines(ctx: RunContext) -> list[str]:
    """Detail candidates for an answer, nearest to the end first: the answer's own last line, then the last
    lines of the agent's previous replies (when the final message is a sign-off every run ends with, the
    answer is in the reply before it)."""
    index, answer = ctx.answer
    found = [detail_text(answer_tail(answer))]
    before = index if index is not None else len(ctx.messages)
    for msg in reversed(ctx.messages[:before]):
        if len(found) > ANSWER_CANDIDATES:
            break
        if msg.role == "assistant" and msg.content.strip():
            found.append(detail_text(answer_tail(msg.content)))
    return list(dict.fromkeys(c for c in found if c))


def success_details(ctx: RunContext) -> list[str]:
    """What a successful run would offer as details (its error lines and answer lines): a failure's detail
    is never one of these when they are about as common in successes."""
    return list(dict.fromkeys(trouble_lines(ctx) + (answer_lines(ctx) if ctx.messages else [])))


def trouble_lines(ctx: RunContext) -> list[str]:
    """Where the run went wrong, nearest first: the normalised error lines of its last observations,
    without lines the run prints over and over (a helper that crashes after every edit is noise)."""
    lines = [(obs, error_line(obs.text)) for obs in ctx.observations if obs.text]
    counts = Counter(detail_text(line) for _, line in lines if line)
    noise = {text for text, n in counts.items() if n >= 3 and n >= 0.25 * len(lines)}
    found: list[str] = []
    for _obs, line in reversed(lines[-TROUBLE_WINDOW:]):
        text = detail_text(line) if line else ""
        if text and text not in noise and text not in found:
            found.append(text)
    return found


def _last_trouble(ctx: RunContext) -> str:
    """Detail candidates for a run that stalled or ended empty-handed, one per line, nearest first; the
    last action closes the list. The contrast pass keeps the first that successes do not show as well."""
    candidates = trouble_lines(ctx)
    for action in reversed(ctx.actions):
        line = action.text.split("\n", 1)[0]
        rest = line[len(action.function) :] if line.startswith(action.function) else line
        if rest.strip() and rest.strip() not in ("exit", "logout", "quit"):  # not a bare keystroke
            candidates.append(detail_text(line))
            break
    return "\n".join(dict.fromkeys(c for c in candidates if c))


def pick_detail(candidates: str, common: set[str]) -> str:
    """The first detail candidate that is not as common in successes (``common``); when all are, the
    first (a one-word answer such as "No" is still the answer, whatever other tasks' successes said)."""
    options = [c for c in candidates.split("\n") if c]
    return next((c for c in options if c not in common), options[0] if options else "")


def outcome_floor(outcome_cause: str) -> float:
    """How strong a finding must be to outweigh this outcome and become the cause."""
    return ERROR_STRENGTH if outcome_cause.startswith("error") else OUTCOME_STRENGTH


def choose(weighed: list[dict[str, Any]], outcome: tuple[str, str]) -> tuple[str, str]:
    """A failure's cause and detail: its strongest non-weak detector finding at least as strong as the
    outcome (:data:`OUTCOME_STRENGTH`), else its outcome.

    ``weighed`` holds ``{"cause", "detail", "strength", "weak"}`` per detection.
    """
    # An error that ended the run outweighs behaviour findings (a loop, giving up), not the environment
    # findings that explain it (a missing program, an unreachable host, a dead sandbox).
    floor = outcome_floor(outcome[0])
    strong = [w for w in weighed if w.get("cause") and not w.get("weak") and (w.get("strength") or 0.0) >= floor]
    if not strong:
        return outcome
    best = max(strong, key=lambda w: (round(w.get("strength") or 0.0, 3), -rank(w["cause"])))
    return best["cause"], best.get("detail") or ""
