"""Detectors for failures of the environment around the agent: infrastructure and API errors (sandbox,
provider) and missing commands or modules that blocked the task."""

from __future__ import annotations

import re

from triage.failures.context import RunContext
from triage.failures.detectors import register
from triage.failures.detectors.text import Rule, excerpt, gives_up
from triage.failures.normalize import normalize
from triage.models import Detection

MAX_INDICES = 20
TAIL_CHARS = 600  # a single missing-dependency report must be this close to the end of its output

# --- infra_error ----------------------------------------------------------------------------------
_INFRA = [
    (
        "sandbox",
        (
            r"sandbox\w*\s+(?:failed|did not start|could not (?:be )?start\w*|error|unavailable|not running|crashed)"
            r"|(?:failed|unable) to (?:start|create|launch|connect to) (?:the )?(?:sandbox|container|docker)"
            r"|Cannot connect to the Docker daemon|docker: Error response from daemon|OCI runtime \w+ failed"
            r"|container \S+ is not running|No such container|\bpod \S+ (?:failed|evicted)|ImagePullBackOff"
            r"|No services started|image'?s? platform \([\w/]+\) does not match|exec format error"
            r"|container (?:\S+ )?(?:exited|died|was killed)|(?:service|container) \S+ exited with code"
            r"|docker compose (?:up )?failed|SandboxEnvironment\w*Error"
            r"|sandbox (?:environment )?(?:died|was terminated)"
            r"|\b(?:harness|sandbox)[_ ]error\b|Port \d+ is not available"
        ),
    ),
    (
        "connection",
        (
            r"connection (?:reset|refused|aborted)|ECONNRESET|ECONNREFUSED|RemoteDisconnected|Connection broken"
            r"|APIConnectionError|ServerDisconnectedError|ClientConnectorError|Network is unreachable"
        ),
    ),
    (
        "api_timeout",
        (
            r"APITimeoutError|ReadTimeout|ConnectTimeout|Request timed out|(?:API|request|gateway) time-?out"
            r"|Gateway Time-?out"
        ),
    ),
    (
        "rate_limit",
        (
            r"\brate[ _-]?limit(?:ed\b|s? (?:exceeded|reached|error))|RateLimitError|Too Many Requests"
            r"|(?:error code|status(?: code)?|HTTP)[: ]*429\b"
            r"|quota exceeded|insufficient_quota|\boverloaded(?:_error)?\b"
        ),
    ),
    (
        "server_error",
        (
            r"InternalServerError|Internal Server Error|Bad Gateway|Service Unavailable"
            r"|(?:error code|status(?: code)?|HTTP)[: ]*5\d\d\b"
        ),
    ),
]
_PATHS = re.compile(r"\S*/\S*")
_SANDBOX_HINTS = ("sandbox", "container", "docker", "oci runtime", "pod ", "imagepull", "services started", "platform")
_SANDBOX_HINTS += ("exec format", "harness", "port ")
_INFRA_RE = Rule(
    "|".join(f"(?P<{name}>{pattern})" for name, pattern in _INFRA),
    _SANDBOX_HINTS
    + ("connection", "econn", "disconnected", "unreachable", "timeout", "timed out", "time-out", "rate", "429")
    + ("too many", "quota", "overloaded", "server", "gateway", "unavailable", "status", "error code", "http"),
)
# In the agent's own command output only sandbox-level failures count: a "connection refused" from a
# server the agent failed to start is the agent's problem, not the infrastructure's.
_INFRA_OUTPUT_RE = Rule(f"(?P<sandbox>{_INFRA[0][1]})", _SANDBOX_HINTS)


def _infra_cause(kind: str | None, text: str) -> dict[str, object]:
    cause = "sandbox_failed" if kind == "sandbox" else "provider_error"
    return {"cause": cause, "cause_detail": f"{kind}: {normalize(text, 80)}", "confidence": 0.95}


@register(
    "infra_error",
    "Infrastructure or API failure: sandbox did not start, connection reset, API timeout, rate limit, 5xx.",
    ("infrastructure",),
)
def infra_error(ctx: RunContext) -> list[Detection]:
    run = ctx.run
    for field in ("error", "error_type"):
        text = run.get(field)
        if not text:
            continue
        match = _INFRA_RE.search(str(text))
        if match:
            return [
                Detection(
                    detector="infra_error",
                    category="infrastructure",
                    message_index=ctx.last_index,
                    excerpt=excerpt(str(text), match.start(), match.end()),
                    detail={
                        "kind": match.lastgroup,
                        "source": f"run.{field}",
                        "match": match.group(0),
                        **_infra_cause(match.lastgroup, match.group(0)),
                    },
                )
            ]
    for obs in ctx.observations:
        for text, pattern, source in ((obs.error, _INFRA_RE, "tool error"), (obs.content, _INFRA_OUTPUT_RE, "output")):
            if not text or not pattern.mentioned(text):
                continue  # (removing paths only removes text: it cannot make a hint appear)
            # Paths name files, not failures: "rate_limiter.py does not exist" is no rate limit.
            text = _PATHS.sub(" ", text)
            # Sandbox failures show at the start or end of an output; scanning megabytes of it is waste.
            match = pattern.search(text, 3000)
            if match:
                kind = match.lastgroup or "sandbox"
                return [
                    Detection(
                        detector="infra_error",
                        category="infrastructure",
                        message_index=obs.index,
                        excerpt=excerpt(text, match.start(), match.end()),
                        detail={
                            "kind": kind,
                            "source": source,
                            "match": match.group(0),
                            **_infra_cause(kind, match.group(0)),
                        },  # fmt: skip
                    )
                ]
    return []


# --- missing_dependency ---------------------------------------------------------------------------
_MISSING = re.compile(
    r"(?:^|[\s:])(?P<cmd>[\w.+-]+): command not found"
    r"|^(?:/(?:usr/)?bin/)?(?:ba|da|z)?sh: (?:line )?(?:\d+: )?(?P<sh>[\w.+-]+): not found"
    r"|(?:^|Error: |python[\d.]*: )No module named ['\"]?(?P<mod>[\w.]+)"
    r"|(?P<lib>lib[\w.+-]+\.so[\w.]*): cannot open shared object file"
    r"|Could not find a version that satisfies the requirement (?P<pkg>[\w.\-\[\]]+)"
    r"|Unable to locate package (?P<apt>[\w.+-]+)",
    re.MULTILINE,
)


def _window(text: str) -> str:
    """Head and tail of a huge output: what a detector reads of it."""
    return text if len(text) <= 80_000 else text[:40_000] + "\n" + text[-40_000:]


_MISSING_HINTS = ("not found", "No module named", "cannot open shared", "Could not find a version", "Unable to locate")


def _missing(window: str) -> list[tuple[str, re.Match[str]]]:
    """(name, match) for every missing command or module a text reports, first occurrence of each name."""
    found: dict[str, re.Match[str]] = {}
    if not any(hint in window for hint in _MISSING_HINTS):
        return []  # substring tests are far cheaper than the regex on long outputs
    for match in _MISSING.finditer(window):
        name = next((g for g in match.groupdict().values() if g), None)
        if name and name not in found:
            found[name] = match
    return list(found.items())


# Leaving the session: "exit", a tool call with only "exit" or nothing (a bare keystroke) as its argument.
_EXIT = re.compile(r"^\s*(?:\w+\s+)?(?:exit|logout|quit)?\s*$")
_CREATES = re.compile(r"mkdir|touch|>|cat\s*<<\s*\W?\w*\W?\s*>|startapp|startproject|create|write", re.IGNORECASE)


def _own_module(ctx: RunContext, name: str, before: int) -> bool:
    """Whether a missing name is the agent's own module or part of the project under test, not a dependency."""
    top = name.split(".")[0]
    if top.startswith("test") or top.endswith("_test"):
        return True  # test-suite fixture modules
    project = f"{ctx.run.get('task_id') or ''} {ctx.run.get('sample_id') or ''}".lower()
    if "." in name and re.search(rf"(?<![a-z0-9]){re.escape(top.lower())}(?![a-z0-9])", project):
        return True  # a submodule of the repository being worked on: a code question, not the environment
    # The agent created it (mkdir myapp, cat > reproduce_app.py, startapp myapp): the name is what a
    # creating command makes, not merely a word of an action that also creates something else.
    made = re.compile(rf"(?:{_CREATES.pattern})\s*(?:-\w+\s+)*['\"]?[\w./-]*{re.escape(top)}", re.IGNORECASE)
    return any(made.search(a.text) for a in ctx.actions if a.index < before)


@register(
    "missing_dependency",
    "A command or module the agent needed was missing (command not found, ModuleNotFoundError).",
    ("missing_env_knowledge", "infrastructure"),
)
def missing_dependency(ctx: RunContext) -> list[Detection]:
    hits: list[tuple[int, str, re.Match[str]]] = []  # message index, text, first real match
    lasts: list[tuple[str, re.Match[str]]] = []  # per hit, the name reported last and its match
    names: list[str] = []
    for obs in ctx.observations:
        window = _window(obs.text)
        found = [(n, m) for n, m in _missing(window) if not _own_module(ctx, n, obs.index)]
        if not found:
            continue
        hits.append((obs.index, window, found[0][1]))
        lasts.append(max(found, key=lambda f: f[1].start()))
        names.extend(n for n, _ in found if n not in names)
    if not hits and ctx.run.get("error"):
        error = _window(str(ctx.run["error"]))
        found = _missing(error)
        if found:
            hits.append((ctx.last_index, error, found[0][1]))
            lasts.append(max(found, key=lambda f: f[1].start()))
            names = [n for n, _ in found]
    if not hits:
        return []
    blocked = _blocked(ctx, hits, lasts[-1][1])
    if blocked:
        # The report the run ended on: the last one in the last output that has any.
        (index, text, _), (blocker, match) = hits[-1], lasts[-1]
    else:
        (index, text, match), blocker = hits[0], names[0]
    # The run stopped at a program that does not exist, invoked as the command itself, with nothing after
    # it: what the run needed to work at all (the agent's own program, the task's tooling) was absent, an
    # environment fault rather than the model's.
    after = index if index is not None else 1 << 30
    ended = (
        blocked
        and not any(a.index > after and not _EXIT.match(a.text) for a in ctx.actions)
        # ... and the model never answered it: a reply ("I give up") is the model's own decision
        and not any(m.role == "assistant" and m.content.strip() for m in ctx.messages[after + 1 :])
        and _invoked(ctx, index, blocker)
    )
    detail: dict[str, object] = {
        "missing": names[:MAX_INDICES], "count": len(hits), "indices": [h[0] for h in hits][:MAX_INDICES],
        "blocked": blocked, "ended_run": ended,
        # Successes missing the same thing show it is harmless (a logging extra the agent never needs).
        "contrast": blocker,
    }  # fmt: skip
    if blocked:
        # The program the run could not start explains even an error that ended it; a module the agent's
        # own work lacked does not outweigh such an error.
        confidence = 0.7 if ended else 0.6
        detail.update(cause="missing_dependency", cause_detail=normalize(blocker, 60), confidence=confidence)
    category = ("infrastructure" if ended else "missing_env_knowledge") if blocked else None
    return [
        Detection(
            detector="missing_dependency",
            # A missing command the agent worked around (or that came up once mid-run) explains nothing.
            category=category,
            message_index=index,
            excerpt=excerpt(text, match.start(), match.end()),
            detail=detail,
        )
    ]


def _invoked(ctx: RunContext, index: int | None, name: str) -> bool:
    """Whether the command answered at ``index`` ran the missing program itself (its first word)."""
    action = next((a for a in reversed(ctx.actions) if index is not None and a.index < index), None)
    if action is None:
        return False
    words = action.text.split()
    if words and words[0] == action.function and len(words) > 1:
        words = words[1:]  # "bash mini -m ...": the tool's name, then the command
    return bool(words) and words[0].rsplit("/", 1)[-1] == name


def _blocked(ctx: RunContext, hits: list[tuple[int | None, str, re.Match[str]]], last: re.Match[str]) -> bool:
    """Whether the missing dependency blocked the task: it ended the run (the run's error), or it kept
    failing up to the end (two or more reports, the last among the final observations) and nothing
    was submitted, or the run stopped right at it (the report closes the last output and no action
    followed)."""
    if ctx.run.get("error") and hits[-1][0] == ctx.last_index and not ctx.observations:
        return True
    tail = {obs.index for obs in ctx.observations[-3:]}
    submission = str(ctx.run.get("submission") or "")
    submitted = bool(submission.strip()) and not gives_up(submission)  # giving up in it is no answer
    if submitted or hits[-1][0] not in tail:
        return False
    last_index = hits[-1][0] or 0
    after = [a for a in ctx.actions if a.index > last_index and not _EXIT.match(a.text)]
    if len(hits) >= 2:
        return True
    # A single report counts only where the output ends with it, not buried in a long session log.
    return not after and len(hits[-1][1]) - last.end() <= TAIL_CHARS
