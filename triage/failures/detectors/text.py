"""Text helpers shared by the detectors: excerpts around a match and the first match in a message list."""

from __future__ import annotations

import re

from triage.ansi import strip_ansi
from triage.failures.context import lower_literals
from triage.failures.normalize import clip

EXCERPT_CHARS = 300


def excerpt(text: str, start: int = 0, end: int | None = None, limit: int = EXCERPT_CHARS) -> str:
    """Up to ``limit`` characters of ``text`` around ``text[start:end]``, one line where possible."""
    end = start if end is None else end
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    if line_end - line_start > limit:
        line_start = max(line_start, start - limit // 3)
        line_end = min(line_end, line_start + limit)
    return clip(strip_ansi(text[line_start:line_end]).strip(), limit)


def search(pattern: re.Pattern[str], text: str, window: int = 40_000) -> re.Match[str] | None:
    """``pattern.search`` on the head and tail of ``text`` only: huge outputs must not slow detectors."""
    if len(text) <= 2 * window:
        return pattern.search(text)
    return pattern.search(text[:window]) or pattern.search(text, len(text) - window)


# The agent saying it gives up, or declaring the task impossible (``gave_up``; a give-up answer is no answer).
GIVE_UP = re.compile(
    r"\bI (?:give up|am giving up|(?:will|'ll) stop (?:here|trying))"
    r"|\bI(?: was|'m| am)? (?:not able|unable|could not|couldn't|can(?:no|')t) (?:to )?"
    r"(?:solve|complete|finish|fix|figure out|find a (?:solution|way)|make (?:it|this) work) (?:this|the|it)"
    r"|unable to (?:complete|solve|finish|determine)|(?:the|this) task (?:is|seems|appears)(?: to be)? impossible"
    r"|\bcannot complete\b|\bgiving up\b"
    r"|\bI(?:'m| am) (?:stuck|out of ideas)|\bI (?:do not|don't) know(?: the answer)?\.?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# An answer that is a placeholder, not an answer.
PLACEHOLDER = re.compile(
    r"^\s*(?:|none|null|n/?a|todo|tbd|unknown|pass|\.\.\.|…|i (?:do not|don't) know|no answer|skip)\s*\.?\s*$",
    re.IGNORECASE,
)


def gives_up(answer: str) -> bool:
    """Whether a submitted answer is no answer: a placeholder, or the agent giving up in it."""
    return bool(PLACEHOLDER.match(answer[:200]) or GIVE_UP.search(answer[:3000]))


class Rule:
    """A case-insensitive regex guarded by literal hints, for scanning many long outputs quickly.

    Python's ``re`` has no literal prefilter and is several times slower with IGNORECASE, and these
    alternations run over every tool output. So the regex only runs on text containing one of the
    hints, and runs case-sensitively on the lower-cased text; the match returned is re-anchored on the
    original text so excerpts and groups keep their case.
    """

    def __init__(self, pattern: str, hints: tuple[str, ...]):
        self.pattern = re.compile(pattern, re.IGNORECASE)
        self.lowered = re.compile(lower_literals(pattern))
        self.hints = tuple(h.lower() for h in hints)

    def mentioned(self, text: str) -> bool:
        """Whether ``text`` holds a hint anywhere: without one, no part of it (nor of text cut from it) matches."""
        lower = text.lower()
        return any(h in lower for h in self.hints)

    def search(self, text: str, window: int = 40_000) -> re.Match[str] | None:
        if len(text) > 2 * window:
            return self._search(text[:window], 0) or self._search(text[-window:], len(text) - window, text)
        return self._search(text, 0)

    def _search(self, part: str, offset: int, whole: str | None = None) -> re.Match[str] | None:
        lower = part.lower()
        if not any(h in lower for h in self.hints):
            return None
        if len(lower) != len(part):  # rare characters change length when lower-cased: go the slow way
            return self.pattern.search(whole or part, offset)
        found = self.lowered.search(lower)
        if found is None:
            return None
        return self.pattern.match(whole or part, offset + found.start())
