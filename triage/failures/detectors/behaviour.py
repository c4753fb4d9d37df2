"""Detectors for how the agent behaved: hitting a usage limit (and whether it was still progressing),
repeating itself, refusing, and giving up or submitting early or empty."""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from triage.failures.context import Action, RunContext
from triage.failures.detectors import register
from triage.failures.detectors.text import GIVE_UP, PLACEHOLDER, excerpt, search
from triage.failures.normalize import clip, fingerprint, normalize
from triage.failures.signature import limit_kind
from triage.models import Detection

LOOP_SIMILARITY = 95  # rapidfuzz ratio at which two results of the same action count as the same
LOOP_STREAK = 3  # consecutive repeats (the same action four times, or an A-B cycle three times)
LOOP_TOTAL = 5  # identical action with identical output this many times anywhere in the run
LOOP_SHARE = 0.3  # ... making up at least this share of all its actions
LOOP_TAIL = 3  # actions after the loop's last repeat for it to count as where the run ended


# --- usage_limit ----------------------------------------------------------------------------------
@register(
    "usage_limit",
    "The run ended on a usage limit (messages, tokens, time, cost, context); notes whether the agent was "
    "still making progress near the end.",
    ("budget_binding", "no_progress"),
)
def usage_limit(ctx: RunContext) -> list[Detection]:
    kind = limit_kind(ctx)
    if kind is None:
        return []
    progress = ctx.progress if ctx.messages else {"progressing": None}
    progressing = progress.get("progressing")
    advancing = bool(progress.get("advancing"))
    if "context" in kind.lower():
        category, cause = None, None  # context_overflow says so, with its own evidence
    elif advancing:
        category, cause = "budget_binding", "limit_progressing"
    elif progressing is None and not ctx.messages:
        category, cause = None, None  # no transcript to judge progress by
    else:
        # New actions alone are not progress: without positive evidence (failures receding, checks
        # passing) the agent was stalled, whatever it was trying.
        category, cause = "no_progress", "limit_stalled"
    value = ctx.run.get("limit_value")
    text = f"{kind} limit" + (f" {value:g}" if isinstance(value, (int, float)) else "") + " reached"
    if progressing is not None:
        text += "; " + ("still progressing" if progressing else "not progressing") + " near the end"
    tail = [a for a in ctx.actions if a.index >= progress.get("tail_start", 1 << 30)]
    if tail:
        text += f"; last action: {tail[-1].text}"
    return [
        Detection(
            detector="usage_limit",
            category=category,
            message_index=ctx.last_index,
            excerpt=clip(text, 300),
            detail={
                "limit_type": kind,
                "limit_value": value,
                "exit_status": ctx.exit_status or None,
                **progress,
                **({"cause": cause, "cause_detail": normalize(kind, 30), "confidence": 0.4} if cause else {}),
            },
        )
    ]


# --- loop -----------------------------------------------------------------------------------------
def _outputs_after(ctx: RunContext, actions: list[Action]) -> list[str]:
    """For each action, the text of the observation that answers it (empty if none)."""
    found = []
    for action in actions:
        result = ctx.result_of(action)
        found.append(result.text[:600] if result is not None else "")
    return found


_NO_ARGUMENTS = re.compile(r"^\S+\s*(?:\{\s*\}|\(\s*\)|\[\s*\])?$")
_TROUBLE = re.compile(r"error|fail|invalid|denied|cannot|can't|unable|not found|no such|refused", re.IGNORECASE)


def _relative_step(action: Action, output: str) -> bool:
    """A step relative to where the agent is (go back, scroll down, next page): no arguments, and a result
    that only acknowledges it. Repeating it moves on each time; its same one-line acknowledgement says
    nothing about being stuck (the same step failing, or showing the same state, still counts)."""
    text = output.strip()  # a fingerprint: whitespace already collapsed
    return bool(_NO_ARGUMENTS.match(action.text.strip())) and len(text) <= 40 and not _TROUBLE.search(text)


@register(
    "loop",
    "Repeated identical or near-identical actions with the same results (the agent going round in circles).",
    ("repeated_actions",),
)
def loop(ctx: RunContext) -> list[Detection]:
    actions = ctx.actions
    if len(actions) < LOOP_STREAK + 1:
        return []
    outputs = [fingerprint(o, 600) for o in _outputs_after(ctx, actions)]
    texts = [" ".join(a.text.split()) for a in actions]  # exact, dates and numbers kept: another day is another search

    def same(i: int, j: int) -> bool:
        # The same action (numbers and arguments kept: a search for another date, or `sed -n 51,100p`
        # after `sed -n 1,50p`, is a new action) with the same result (timestamps and ids masked).
        if texts[i] != texts[j] or _relative_step(actions[i], outputs[i]):
            return False
        return outputs[i] == outputs[j] or fuzz.ratio(outputs[i], outputs[j], score_cutoff=LOOP_SIMILARITY) > 0

    best = (0, 0, 0, 0)  # repeats, start position, end position, period
    streak, start, period = 0, 0, 0
    for i in range(1, len(actions)):
        p = 1 if same(i, i - 1) else (2 if i >= 2 and same(i, i - 2) else 0)
        if p == 0:
            streak = 0
            continue
        if streak and p == period:
            streak += 1
        else:
            streak, start, period = 1, i - p, p
        if streak > best[0]:
            best = (streak, start, i, period)
    repeats, first, last, period = best
    total_rule = None
    if repeats < LOOP_STREAK:
        counts: dict[tuple[str, str], list[int]] = {}
        for pos, action in enumerate(actions):
            if ctx.is_submit(action) or _relative_step(action, outputs[pos]):
                continue
            counts.setdefault((texts[pos], outputs[pos]), []).append(pos)
        positions = max(counts.values(), key=len, default=[])
        # Re-running the same check between edits is how work gets done; scattered repeats are a loop only
        # when they are a large part of everything the agent did.
        if len(positions) < LOOP_TOTAL or len(positions) < LOOP_SHARE * len(actions):
            return []
        total_rule = positions
        repeats, first, last, period = len(positions) - 1, positions[0], positions[-1], 0
    action = actions[first]
    # A loop the agent broke out of and moved on from explains nothing; one it ended in (or that ate a
    # large share of the run) is why the run failed.
    after = len(actions) - 1 - last
    decisive = after <= max(LOOP_TAIL, len(actions) // 5) or repeats + 1 >= LOOP_SHARE * len(actions)
    cause = {"cause": "loop", "cause_detail": normalize(action.text.split("\n", 1)[0], 80), "confidence": 0.6}
    return [
        Detection(
            detector="loop",
            category="repeated_actions" if decisive else None,
            message_index=action.index,
            excerpt=clip(action.text, 300),
            detail={
                "repeats": repeats,
                "period": period,
                "rule": "scattered identical" if total_rule else "consecutive",
                "first_index": action.index,
                "last_index": actions[last].index,
                "indices": [actions[p].index for p in (total_rule or range(first, last + 1))][:20],
                "actions": len(actions),
                "actions_after": after,
                **(cause if decisive else {}),
            },
        )
    ]


# --- refusal --------------------------------------------------------------------------------------
_REFUSAL = re.compile(
    r"\bI(?:'m| am)? (?:sorry|afraid),? (?:but )?I (?:can(?:no|')t|won't|will not|(?:am|'m) (?:un|not )?able to)"
    r" (?:help|assist|comply|provide|do|complete|fulfil|continue|engage|participate|create|write)"
    r"|\bI (?:can(?:no|')t|won't(?: be able to)?|will not|must decline to|(?:am|'m) unable to) (?:help|assist|comply)"
    r" (?:you )?with"
    r"|\bI must (?:decline|refuse)\b|\bI(?:'m| am) not (?:comfortable|willing) (?:helping|assisting|to help)"
    r"|against (?:my|the) (?:guidelines|usage polic(?:y|ies)|content polic(?:y|ies)|ethical guidelines)"
    r"|\bI (?:can(?:no|')t|won't|will not|am not able to|'m not able to) (?:help|assist) (?:you )?with (?:that|this)"
    r"|\bI (?:apologi[sz]e|'m sorry),? but I (?:can(?:no|')t|won't|will not|am unable to|'m unable to)\b"
    r"|\b(?:not something I can|I'm not able to) (?:help|assist) with\b",
    re.IGNORECASE,
)
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@register("refusal", "The model declined to attempt the task.", ("refusal",))
def refusal(ctx: RunContext) -> list[Detection]:
    assistant = [i for i, m in enumerate(ctx.messages) if m.role == "assistant"]
    if not assistant:
        return []
    # A refusal decides a run when it is the first answer or the last word, not a remark mid-way.
    candidates = [assistant[0], *assistant[-2:]]
    for i in dict.fromkeys(candidates):
        msg = ctx.messages[i]
        if msg.tool_calls and i != assistant[-1]:
            continue
        text = msg.content[:600].translate(_QUOTES)  # models write curly apostrophes: "I can’t help"
        match = _REFUSAL.search(text)
        if match:
            return [
                Detection(
                    detector="refusal",
                    category="refusal",
                    message_index=i,
                    excerpt=excerpt(text, match.start(), match.end()),
                    detail={
                        "match": match.group(0),
                        "position": "first" if i == assistant[0] else "last",
                        "cause": "refusal",
                        "cause_detail": normalize(match.group(0), 60),
                        "confidence": 0.85,
                    },
                )
            ]
    return []


# --- gave_up --------------------------------------------------------------------------------------
@register(
    "gave_up",
    "The agent gave up or declared the task impossible (in its last messages or its submission), or submitted "
    "an empty answer or a placeholder.",
    ("gave_up",),
)
def gave_up(ctx: RunContext) -> list[Detection]:
    if ctx.status in ("error", "limit") or limit_kind(ctx) is not None:
        return []  # the run ended for another reason; its detectors say which
    assistant = [i for i, m in enumerate(ctx.messages) if m.role == "assistant"]
    for i in reversed(assistant[-2:]):
        text = ctx.messages[i].content
        match = search(GIVE_UP, text[-3000:])
        if match:
            tail = text[-3000:]
            return [_hit(i, excerpt(tail, match.start(), match.end()), "gave up", match.group(0))]
    submission = ctx.run.get("submission")
    submitted = [a for a in ctx.actions if ctx.is_submit(a)]
    if (
        submission is not None
        and PLACEHOLDER.match(str(submission)[:200])
        and (submitted or "submit" in ctx.exit_status.lower())
    ):
        index = submitted[-1].index if submitted else ctx.last_index
        return [_hit(index, f"submitted {str(submission).strip()!r}", "empty or placeholder submission", None)]
    if not ctx.actions and assistant and PLACEHOLDER.match(ctx.messages[assistant[-1]].content[:200]):
        i = assistant[-1]
        return [_hit(i, clip(ctx.messages[i].content.strip() or "(empty answer)", 300), "empty answer", None)]
    # Giving up in the submission itself ("I was unable to determine the answer.").
    for action in reversed(submitted):
        match = GIVE_UP.search(action.text[:3000])
        if match:
            return [
                _hit(
                    action.index,
                    excerpt(action.text, match.start(), match.end()),
                    "gave up in submission",
                    match.group(0),
                )
            ]
    return []


def _hit(index: int | None, text: str, rule: str, match: str | None, extra: dict | None = None) -> Detection:
    cause = "empty_answer" if "empty" in rule else "gave_up"
    detail = {
        "rule": rule, **({"match": match} if match else {}), **(extra or {}),
        "cause": cause, "cause_detail": normalize(match or rule, 60), "confidence": 0.6,
    }  # fmt: skip
    return Detection(detector="gave_up", category="gave_up", message_index=index, excerpt=text, detail=detail)
