"""What the signature builder and the detectors read about one run, computed once and shared.

:class:`RunContext` wraps a run's database row and its messages and derives, lazily, the agent's
actions (tool calls, or fenced commands for text-only scaffolds), the observations it got back, the
final answer, and the progress it was making near the end. :func:`error_line` picks the line of a
command's output that says what went wrong.
"""

from __future__ import annotations

import bisect
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import orjson
from rapidfuzz import fuzz, process

from triage.ansi import strip_ansi
from triage.failures.normalize import fingerprint
from triage.models import Message

ACTION_CHARS = 600  # actions are compared on a prefix: a 50 kB file write is still one action
OBSERVATION_TAIL = 3  # observations at the end that may hold the failing command
SAME_OUTPUT = 95  # rapidfuzz ratio at which two observation fingerprints count as the same

# Upper-case letters that are literals: not escapes such as \S or \W, nor the P of (?P<name>...).
_UPPER_LITERAL = re.compile(r"(?<![\\?])[A-Z]")


def lower_literals(pattern: str) -> str:
    """``pattern`` for lower-cased text: its literal letters lower-cased, escapes like ``\\S`` kept."""
    return _UPPER_LITERAL.sub(lambda m: m.group(0).lower(), pattern)


_FENCE = re.compile(r"```(?:bash|sh|shell|console)?\s*\n(.*?)```", re.DOTALL)
_RETURNCODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>")
# Multi-line patterns, searched a block of lines at a time from the end (one regex pass per block, not one
# call per line). A line is a candidate whatever its indentation; ``[^\S\n]`` is a space within a line.
_EXCEPTION_LINE = re.compile(
    r"^[^\S\n]*(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Fault|Failure|Timeout|NotFound)\b",
    re.MULTILINE,
)
_FAILING_LINE = re.compile(
    r"command not found|: not found[^\S\n]*$|No such file or directory|No module named|\berror\b|\bFAILED\b|"
    r"^fatal:|Segmentation fault|\bKilled\b|Permission denied|\bexception\b|cannot |could not |unable to ",
    re.IGNORECASE | re.MULTILINE,
)
# The same, case-sensitive, for lower-cased text: Python's re is several times slower with IGNORECASE.
_FAILING_LOWER = re.compile(lower_literals(_FAILING_LINE.pattern), re.MULTILINE)
_TRACEBACK = re.compile(r"^Traceback \(most recent call last\)", re.MULTILINE)
_LINE_BREAKS = re.compile("[\x85\u2028\u2029]")  # what str.splitlines also splits on, after strip_ansi
_BLOCK = 2048
# Markers that an observation reports a failure (not merely mentions the word "error" in a file listing).
_FAILURE_MARKERS = re.compile(
    r"Traceback \(most recent call last\)|command not found|No module named|^(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception):"
    r"|^E\s+\w+|^error[:\[]|^fatal:|^FAILED|Segmentation fault|^Killed$|No such file or directory",
    re.MULTILINE,
)
# A failure worth a signature: an exception, a failed test, a missing command or module. A plain non-zero
# exit (grep found nothing, rm of a missing file) is routine and says nothing about why a run failed.
_STRONG_MARKERS = re.compile(
    r"Traceback \(most recent call last\)|command not found|No module named|^(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception):"
    r"|^E\s+\w+|^error[:\[]|^fatal:|^FAILED|Segmentation fault|^Killed$",
    re.MULTILINE,
)
_COMMAND_ERROR = re.compile(r"^\s*(?:returncode|exit code|exit status|exited with|command failed)\b", re.IGNORECASE)
# Checks reporting success (case matters: "pass" is a Python keyword, and scaffolds say "ran successfully"
# about any command).
_PASSING = re.compile(
    r"\b\d+ passed\b|^OK(?: \(|$)|\bPASS(?:ED)?\b|(?i:\ball tests pass|\btests? passed)",
    re.MULTILINE,
)
_SUBMIT = re.compile(r"submit|final_answer|finish|COMPLETE_TASK", re.IGNORECASE)


@dataclass(frozen=True)
class Action:
    """One thing the agent did: a tool call (or a fenced command), with the message it came from."""

    index: int
    function: str
    text: str  # function and arguments, as compared by the loop detector
    call_id: str | None = None  # the tool call's id, which its result names


@dataclass(frozen=True)
class Observation:
    """What the environment returned: a tool result (or scaffold feedback), with any recorded error."""

    index: int
    function: str | None
    content: str
    error: str | None
    call_id: str | None = None  # the id of the tool call this result answers, when the source records it

    @property
    def text(self) -> str:
        return f"{self.error}\n{self.content}" if self.error else self.content


def arguments_text(arguments: Any) -> str:
    """A tool call's arguments as text: a lone command-like value bare, anything else as sorted JSON."""
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        return arguments
    if isinstance(arguments, dict) and len(arguments) == 1:
        (value,) = arguments.values()
        if isinstance(value, str):
            return value
    try:
        return orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS, default=str).decode()
    except TypeError:
        return str(arguments)


def returncode(text: str) -> int | None:
    """The ``<returncode>`` a text-only scaffold (mini-swe-agent) reported, if any."""
    match = _RETURNCODE.search(text[:400])
    return int(match.group(1)) if match else None


def looks_failing(obs: Observation) -> bool:
    """Whether an observation reports a failed command or tool call."""
    if obs.error:
        return True
    code = returncode(obs.content)
    if code is not None:
        return code != 0
    return bool(_FAILURE_MARKERS.search(obs.content[-6000:]))


def wraps_exit_code(error: str | None) -> bool:
    """Whether a recorded tool error merely carries a command's exit code (``returncode 1: ...``)."""
    return bool(error) and bool(_COMMAND_ERROR.match(error))


def strong_failure(obs: Observation) -> bool:
    """Whether an observation shows a failure worth a signature (see ``_STRONG_MARKERS``).

    A harness-recorded tool error counts unless it merely wraps a command's exit code, in which case
    the command's output decides.
    """
    if obs.error and not wraps_exit_code(obs.error):
        return True
    text = obs.text
    window = text if len(text) <= 12_000 else text[:6000] + "\n" + text[-6000:]
    return bool(_STRONG_MARKERS.search(window))


def error_line(text: str) -> str | None:
    """The line of ``text`` that best says what went wrong (a Python exception line first)."""
    return _error_line(text[-20000:])


# The signature, the outcome and the contrast each ask for the same outputs' lines (keys of at most 20,000
# characters: at most ~20 MB of ASCII held).
@lru_cache(maxsize=1024)
def _error_line(text: str) -> str | None:
    text = strip_ansi(text)
    if "\x85" in text or "\u2028" in text or "\u2029" in text:
        text = _LINE_BREAKS.sub("\n", text)
    traceback = _last(_TRACEBACK.finditer(text))
    if traceback is not None:
        # The exception line: the first unindented line after the frames of the last traceback.
        for line in text[traceback.end() :].split("\n")[1:]:
            if line.strip() and not line[0].isspace():
                return line.strip()
    found = _last_line(_EXCEPTION_LINE, text)
    if found is None:
        lower = text.lower()
        # Lower-casing keeps every offset unless a rare character changes length: then the slow way.
        found = _last_line(_FAILING_LOWER, text, lower) if len(lower) == len(text) else _last_line(_FAILING_LINE, text)
    return found


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    found = deque(matches, maxlen=1)
    return found[0] if found else None


def _last_line(pattern: re.Pattern[str], text: str, haystack: str | None = None) -> str | None:
    """The last line of ``text`` where ``pattern`` (multi-line) matches in ``haystack`` (``text`` itself, or
    a copy with the same offsets), stripped; None if none does."""
    haystack = text if haystack is None else haystack
    end = len(text)
    while end > 0:
        # A block of whole lines ending at ``end``: blocks from the end, so a late match is found early.
        start = text.rfind("\n", 0, end - _BLOCK) + 1 if end > _BLOCK else 0
        last = _last(pattern.finditer(haystack, start, end))
        if last is not None:
            line_start = text.rfind("\n", 0, last.start()) + 1
            line_end = text.find("\n", last.start())
            return text[line_start : None if line_end == -1 else line_end].strip()
        end = start
    return None


class RunContext:
    """One run as the failure analysis sees it: its row, its messages, and facts derived from them."""

    def __init__(self, run: dict[str, Any], messages: list[Message]):
        self.run = run
        self.messages = messages

    # --- run fields --------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self.run["id"]

    @property
    def status(self) -> str:
        return self.run.get("status") or "failed"

    @property
    def failed(self) -> bool:
        return self.status != "success"

    @property
    def last_index(self) -> int | None:
        return len(self.messages) - 1 if self.messages else None

    @cached_property
    def exit_status(self) -> str:
        return (self.run.get("exit_status") or "").strip()

    # --- derived from messages ---------------------------------------------------------------
    @cached_property
    def actions(self) -> list[Action]:
        """Tool calls in order; for runs with no tool calls at all, fenced shell blocks in assistant text."""
        found: list[Action] = []
        for i, msg in enumerate(self.messages):
            if msg.role != "assistant":
                continue
            for call in msg.tool_calls:
                args = arguments_text(call.arguments)
                found.append(Action(i, call.function, f"{call.function} {args}"[:ACTION_CHARS], call.id))
        if found:
            return found
        for i, msg in enumerate(self.messages):
            if msg.role == "assistant":
                for block in _FENCE.findall(msg.content):
                    found.append(Action(i, "bash", block.strip()[:ACTION_CHARS]))
        return found

    @cached_property
    def observations(self) -> list[Observation]:
        """Tool results; for scaffolds without tool messages, the user turns after the first action."""
        tool = [
            Observation(i, m.function, m.content, m.error, m.tool_call_id)
            for i, m in enumerate(self.messages)
            if m.role == "tool"
        ]
        if tool or not self.actions:
            return tool
        first = self.actions[0].index
        return [
            Observation(i, None, m.content, m.error)
            for i, m in enumerate(self.messages)
            if m.role == "user" and i > first
        ]

    @cached_property
    def action_at(self) -> dict[int, Action]:
        """The last action issued in each assistant message, by message index."""
        return {a.index: a for a in self.actions}

    @cached_property
    def final_assistant(self) -> tuple[int, str] | None:
        """Index and text of the last assistant message with text."""
        for i in range(len(self.messages) - 1, -1, -1):
            msg = self.messages[i]
            if msg.role == "assistant" and msg.content.strip():
                return i, msg.content
        return None

    @cached_property
    def answer(self) -> tuple[int | None, str]:
        """The submitted answer and the message it is in (the run's submission, else the final message)."""
        submission = self.run.get("submission")
        if submission is not None and str(submission).strip():
            text = str(submission)
            probe = text.strip()[:200]
            for i in range(len(self.messages) - 1, -1, -1):
                msg = self.messages[i]
                if probe and (
                    probe in msg.content or any(probe in arguments_text(c.arguments) for c in msg.tool_calls)
                ):
                    return i, text
            return self.last_index, text
        # Without a recorded submission the answer is the agent's last word: its final text, or what it
        # passed to a submit-like tool (``finish(message=...)``), whichever came later.
        found = [c for c in (self.final_assistant, self._final_submit_call) if c is not None]
        if not found:
            return None, ""
        return max(found, key=lambda c: c[0])

    @cached_property
    def _final_submit_call(self) -> tuple[int, str] | None:
        """Index and argument text of the last submit-like tool call with arguments."""
        for i in range(len(self.messages) - 1, -1, -1):
            msg = self.messages[i]
            if msg.role != "assistant":
                continue
            for call in reversed(msg.tool_calls):
                if _SUBMIT.search(call.function):
                    text = arguments_text(call.arguments)
                    if text.strip():
                        return i, text
        return None

    def is_submit(self, action: Action) -> bool:
        return bool(_SUBMIT.search(action.function)) or bool(_SUBMIT.search(action.text[:80]))

    @cached_property
    def _action_indices(self) -> list[int]:
        return [a.index for a in self.actions]

    def command_of(self, obs: Observation) -> Action | None:
        """The action an observation answers: the last action before it, or, when that message made several
        tool calls at once, the call the result names by id (else the one in the same place in its turn)."""
        pos = bisect.bisect_left(self._action_indices, obs.index)
        if not pos:
            return None
        paired = self._paired.get(obs.index)
        return paired if paired is not None else self.actions[pos - 1]

    def result_of(self, action: Action) -> Observation | None:
        """The first observation that answers ``action`` (one of :attr:`actions`; the inverse of
        :meth:`command_of`), None if none does."""
        return self._results.get(id(action))

    @cached_property
    def _paired(self) -> dict[int, Action]:
        """Results of parallel tool calls (one message, several calls) and the call each answers: by id,
        else in order among the results that follow the message."""
        out: dict[int, Action] = {}
        obs, indices = self.observations, [o.index for o in self.observations]
        groups: dict[int, list[Action]] = {}
        for action in self.actions:
            groups.setdefault(action.index, []).append(action)
        for index, calls in groups.items():
            if len(calls) < 2:
                continue
            start = bisect.bisect_right(indices, index)
            end = bisect.bisect_left(indices, self._next_action_message(index))
            by_id = {c.call_id: c for c in calls if c.call_id}
            named = {o.call_id for o in obs[start:end]}
            unanswered = [c for c in calls if c.call_id not in named or not c.call_id]
            for result in obs[start:end]:
                call = by_id.get(result.call_id) if result.call_id else None
                if call is None and unanswered:
                    call = unanswered.pop(0)
                if call is not None:
                    out[result.index] = call
        return out

    def _next_action_message(self, index: int) -> int:
        pos = bisect.bisect_right(self._action_indices, index)
        return self._action_indices[pos] if pos < len(self._action_indices) else len(self.messages)

    @cached_property
    def _results(self) -> dict[int, Observation]:
        out: dict[int, Observation] = {}  # by the identity of the action (equal actions are distinct calls)
        for obs in self.observations:
            action = self.command_of(obs)
            if action is not None:
                out.setdefault(id(action), obs)
        return out

    @cached_property
    def progress(self) -> dict[str, Any]:
        """Whether the agent was still making progress near the end of the run.

        Compares the last *k* actions (k = a fifth of them, between 3 and 10) with everything before:
        the share of tail actions never issued before, the share of tail observations unlike any earlier
        one, and the share of tail observations that report failures. Texts are compared as
        fingerprints (numbers kept: a new hyper-parameter is a new action). ``progressing`` is None
        when there are too few actions to judge.
        """
        acts = self.actions
        n = len(acts)
        if n < 4:
            return {"progressing": None, "advancing": False, "actions": n}
        k = max(3, min(10, n // 5))
        earlier = {fingerprint(a.text) for a in acts[:-k]}
        novel = 0
        for action in acts[-k:]:
            text = fingerprint(action.text)
            novel += text not in earlier
            earlier.add(text)
        tail_start = acts[-k].index
        obs = self.observations
        tail_obs = [o for o in obs if o.index > tail_start]
        seen = [fingerprint(o.text) for o in obs if o.index <= tail_start]
        novel_out = 0
        failing = 0
        for o in tail_obs:
            text = fingerprint(o.text)
            if not seen or process.extractOne(text, seen, scorer=fuzz.ratio, score_cutoff=SAME_OUTPUT) is None:
                novel_out += 1
            seen.append(text)
            failing += looks_failing(o)
        novel_actions = novel / k
        novel_outputs = novel_out / len(tail_obs) if tail_obs else 0.0
        failing_share = failing / len(tail_obs) if tail_obs else 0.0
        progressing = novel_actions >= 0.5 and novel_outputs >= 0.3 and failing_share < 0.7
        # Positive evidence that the work moved forward: failures receding and checks passing, on top of
        # new actions getting new results. New actions alone are not progress.
        before = [o for o in obs if o.index <= tail_start]
        failing_before = sum(looks_failing(o) for o in before) / len(before) if before else 1.0
        passing = sum(bool(_PASSING.search(o.content[-3000:])) for o in tail_obs) / len(tail_obs) if tail_obs else 0.0
        advancing = progressing and failing_share <= 0.2 and failing_share <= failing_before - 0.2 and passing >= 0.3
        return {
            "advancing": advancing,
            "failing_before": round(failing_before, 3),
            "passing_outputs": round(passing, 3),
            "progressing": progressing,
            "actions": n,
            "tail_actions": k,
            "tail_start": tail_start,
            "novel_actions": round(novel_actions, 3),
            "novel_outputs": round(novel_outputs, 3),
            "failing_outputs": round(failing_share, 3),
        }
