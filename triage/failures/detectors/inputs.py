"""Detector for a task whose input files are not in the sandbox: ``task_files_missing``.

The task names files or folders to work from (``/workspace/data.csv``, ``the report in docs/plan.pdf``);
every attempt the agent made to read, list or find one of them reported it missing (``No such file or
directory``, ``does not exist``, a ``find -name`` that prints nothing, a clean listing of the folder the
task puts it in that does not show it) and none ever succeeded. The environment was not set up as the
task assumes: nothing the agent could do would have made the run succeed, so the finding proposes
``infrastructure`` and outweighs what the agent did about it (searching again and again, asking for the file).
Files the task asks the agent to create (``save it to out.txt``) and files the agent itself writes are
outputs, never missing inputs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from triage.ansi import strip_ansi
from triage.failures.context import Observation, RunContext
from triage.failures.detectors import register
from triage.failures.detectors.text import Rule, excerpt
from triage.failures.normalize import normalize
from triage.models import Detection

MIN_FAILED_READS = 2  # failed attempts on the task's inputs before they count as missing

_URL = re.compile(r"\b[a-z][\w+.-]*://\S+", re.IGNORECASE)
# A path or file name as a task writes it: with a slash, or a name with a short alphabetic extension.
_PATH = re.compile(
    r"(?<![\w/.@-])((?:~|\.{1,2})?/?(?:[\w.-]+/)*[\w-][\w.-]*\.(?:[A-Za-z]{1,4}\d?|jsonl|ipynb|xhtml)"
    r"|/(?:[\w.-]+/)*[\w.-]+/?)(?![\w/-])"
)
# A path quoted in backticks, which may hold spaces (``/Documents/Administrative Specialist/policy.pdf``).
_QUOTED = re.compile(r"`([^`\n]{3,200})`")
# Words that make the path that follows something to produce, not to read.
_OUTPUT_VERB = re.compile(
    r"\b(?:create|creat(?:es|ing)|write|writ(?:es|ing)|save|sav(?:es|ing)|generate|produce|output|export"
    r"|post it|put it|store|called|named|to|into)\b[^.\n]{0,40}$",
    re.IGNORECASE,
)
# The agent writing a file itself: a redirection, tee/touch/mkdir, an editor's create, -o, open(.., 'w').
_WRITES = re.compile(
    r"(?:>>?|\btee\s+(?:-a\s+)?|\btouch\s+|\bmkdir\s+(?:-p\s+)?|-o\s+|\bcreate\s+"
    r"|\"create\"[^\n]{0,40}\"path\":\s*\")\s*['\"]?(\S+)"
)
_MISSING = Rule(
    r"No such file or directory|does not exist|doesn't exist|cannot stat|cannot access|cannot find"
    r"|cannot open|can't open|FileNotFoundError|not found(?! in)|Invalid `path` parameter",
    ("no such file", "exist", "cannot", "can't", "filenotfounderror", "not found", "invalid `path`"),
)
_COMMAND_MISSING = re.compile(r"command not found|: not found$|No module named", re.MULTILINE)
# A program that could not start (a missing command, a failed import) read nothing: its output proves no file.
_NEVER_RAN = re.compile(_COMMAND_MISSING.pattern + r"|\b(?:ImportError|ModuleNotFoundError)\b", re.MULTILINE)
_FIND = re.compile(r"\b(?:find|locate)\b[^\n|;&]*-i?name\b|\blocate\s")
_TERMINAL_NOISE = re.compile(r"\[\?2004[hl]")
_GENERIC = {"workspace", "tmp", "app", "root", "home", "usr", "etc", "bin", "src", "var", "opt", "mnt", "data"}
# Commands that read or list what they name: their clean, non-empty output means it is there. A message
# that merely mentions the file (to a person, in an echo) says nothing about it existing.
_READ_VERBS = {
    "cat", "head", "tail", "less", "more", "sed", "awk", "grep", "wc", "stat", "file", "ls", "find", "locate",
    "unzip", "tar", "cp", "mv", "rsync", "open", "view", "python", "python3", "node", "bash", "sh", "source",
    "diff", "md5sum", "sha256sum", "xxd", "od", "read_file", "read",
}  # fmt: skip
# Commands that list a folder: a clean listing without a file the task puts there is an attempt that failed.
_LIST_VERBS = {"ls", "view", "tree", "dir"}
_SHELL_SPLIT = re.compile(r"&&|\|\||[;|\n]")
_EDITOR_COMMAND = re.compile(r'"command":\s*"(?:cd \S+ && )?([\w./-]+)')
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _base(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1].lower()


CACHED_PROMPT_CHARS = 65_536  # prompts up to this long are cached (the cache holds at most 512 of them)


Inputs = tuple[frozenset[str], tuple[tuple[str, frozenset[str]], ...]]


def _inputs(prompt: str) -> Inputs:
    """Base names of the files and folders the task names as things to read (outputs left out), and the
    folders the task places its input files in (path without leading ``./`` or ``/``, lower case) with the
    base names of those files.

    Cached: every run of a task has the same prompt, and this is the detector's costliest step."""
    return _cached_inputs(prompt) if len(prompt) <= CACHED_PROMPT_CHARS else _prompt_inputs(prompt)


@lru_cache(maxsize=512)
def _cached_inputs(prompt: str) -> Inputs:
    return _prompt_inputs(prompt)


def _paths(text: str) -> Iterator[tuple[int, str]]:
    """``(offset, path)`` of the paths ``text`` names, in order: a quoted path with spaces in it
    (```/Documents/Admin Team/plan.pdf```) whole, every other path as :data:`_PATH` finds it."""
    found: list[tuple[int, str]] = []
    for quoted in _QUOTED.finditer(text):
        inner = quoted.group(1)
        if " " in inner and inner == inner.strip() and _PATH.fullmatch(inner.replace(" ", "_")):
            found.append((quoted.start(1), inner))
            text = text[: quoted.start(1)] + " " * len(inner) + text[quoted.end(1) :]  # offsets kept
    found.extend((match.start(1), match.group(1)) for match in _PATH.finditer(text))
    return iter(sorted(found))


def _prompt_inputs(prompt: str) -> Inputs:
    text = _URL.sub(" ", prompt)
    remote = _remote_roots(prompt)
    found: set[str] = set()
    folders: dict[str, set[str]] = {}
    for start, path in _paths(text):
        if path.startswith("/") and _root(path) in remote:
            continue  # a document on the service the task links to, not a file of the sandbox
        name = _base(path)
        if len(name) < 3 or name in _GENERIC or (name.find(".") in (0, 1) and "/" not in path):
            continue  # "e.g", "i.e": not a file
        if "." not in name and "/" not in path.strip("/"):
            continue  # a bare folder like /data is too generic to follow
        if _OUTPUT_VERB.search(text[max(0, start - 60) : start]):
            continue
        found.add(name)
        # The folders on the way are inputs too: an agent looks for the file by listing them.
        found.update(d.lower() for d in path.strip("/").split("/")[:-1] if len(d) >= 3 and d.lower() not in _GENERIC)
        folder = _folder(path.rstrip("/").rsplit("/", 1)[0]) if "/" in path.rstrip("/") else ""
        if folder:
            folders.setdefault(folder, set()).add(name)
    return frozenset(found), tuple(sorted((f, frozenset(n)) for f, n in folders.items()))


def _root(path: str) -> str:
    return path.strip("/").split("/", 1)[0].lower()


def _remote_roots(prompt: str) -> set[str]:
    """Top folders of the absolute paths a paragraph names beside a web address (``/Documents/plan.pdf on
    OwnCloud (http://...)``): paths under them are on that service. Folders every sandbox has (``/workspace``,
    ``/tmp``...) stay local."""
    roots: set[str] = set()
    for paragraph in re.split(r"\n\s*\n", prompt):
        if _URL.search(paragraph):
            for _, path in _paths(_URL.sub(" ", paragraph)):
                if path.startswith("/") and "/" in path.strip("/") and _root(path) not in _GENERIC:
                    roots.add(_root(path))
    return roots


def _folder(path: str) -> str:
    """A folder path as compared: lower case, without ``~``, leading ``./`` or ``/`` and trailing ``/``."""
    return path.lower().lstrip("~").lstrip("./").rstrip("/")


def _listed(folders: tuple[tuple[str, frozenset[str]], ...], action: str) -> list[tuple[str, frozenset[str]]]:
    """The task's input folders a listing command names (``ls /workspace``, an editor's view of it). In a
    shell line only its last command counts: what ``cd dir && ls sub`` lists is not ``dir``."""
    if not _arguments(action).startswith("{"):  # an editor's JSON arguments are one command
        action = _SHELL_SPLIT.split(action)[-1]
    out = []
    for folder, names in folders:
        if re.search(rf"(?<![\w./-])[~.]?/?{re.escape(folder)}/?(?![\w/.-])", action):
            out.append((folder, names))
    return out


def _arguments(text: str) -> str:
    """What follows the tool's name in an action's text ("" for a call with no arguments, "bash " included)."""
    parts = text.split(None, 1)
    return parts[1] if len(parts) > 1 else ""


def _verb(text: str) -> str:
    """The command an action ran: the editor's sub-command, else the first word of the shell line."""
    rest = _arguments(text)
    if rest.startswith("{"):
        match = _EDITOR_COMMAND.search(rest[:300])
        return match.group(1).rsplit("/", 1)[-1].lower() if match else ""
    words = rest.replace("&&", " ").split()
    while words and (words[0] in ("cd", "sudo") or "=" in words[0]):
        words = words[2:] if words[0] == "cd" else words[1:]
    return words[0].rsplit("/", 1)[-1].lower() if words else (text.split() or [""])[0].lower()


def _names_in(names: frozenset[str] | set[str], text: str) -> set[str]:
    return {n for n in names if re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w-])", text)}


def _output(obs: Observation) -> str:
    """An observation's text as the detector reads it: no colours, terminal noise or control characters."""
    return _CONTROL.sub("", _TERMINAL_NOISE.sub("", strip_ansi(obs.text))).strip()


def _listing(
    obs: Observation,
    folders: tuple[tuple[str, frozenset[str]], ...],
    action: str,
    failed: dict[str, list[tuple[int, str]]],
    found: set[str],
) -> None:
    """A listing of a folder the task puts its inputs in: the files it shows are there; a clean, non-empty
    listing without one of them is an attempt that found it missing."""
    text = _output(obs)
    if not text or obs.error or _MISSING.search(text[:3000]):
        return  # nothing listed, or the folder itself missing (counted when the folder is an input)
    lowered = text.lower()
    for folder, names in _listed(folders, action):
        shown = _names_in(names, lowered)
        found.update(shown)
        for name in sorted(names - shown):
            failed.setdefault(name, []).append((obs.index, f"listing of {folder}/ shows no {name}"))


def _written(ctx: RunContext) -> dict[str, int]:
    """Base names the agent wrote itself, with the message index of the first write."""
    names: dict[str, int] = {}
    for action in ctx.actions:
        for match in _WRITES.finditer(action.text[:4000]):
            names.setdefault(_base(match.group(1).strip("'\",)")), action.index)
    return names


@register(
    "task_files_missing",
    f"Files or folders the task names as its input are not in the sandbox: every attempt to read, list or find "
    f"them (or to list their folder) reported them missing ({MIN_FAILED_READS}+ attempts, none succeeded).",
    ("infrastructure",),
)
def task_files_missing(ctx: RunContext) -> list[Detection]:
    prompt = "\n".join(m.content for m in ctx.messages[:4] if m.role in ("system", "user"))
    wanted, folders = _inputs(prompt)
    if not wanted:
        return []
    failed: dict[str, list[tuple[int, str]]] = {}
    found: set[str] = set()
    for obs in ctx.observations:
        action = ctx.command_of(obs)
        if action is None or ctx.is_submit(action):
            continue
        lowered = action.text.lower()
        named = _names_in(wanted, lowered)
        verb = _verb(action.text)
        if not named:
            if verb in _LIST_VERBS and folders:
                _listing(obs, folders, lowered, failed, found)
            continue
        text = _output(obs)
        missing = _MISSING.search(text[:3000])
        if missing and not _COMMAND_MISSING.search(text[:3000]):
            # What the message says is missing is on its line (``ls: cannot access 'x'``, ``[Errno 2] ...: 'x'``);
            # a short reply to a reading command is about what it read.
            line = excerpt(text, missing.start(), missing.end(), limit=1000).lower()
            said = _names_in(named, line) or (named if verb in _READ_VERBS and len(text) <= 300 else set())
            for name in said:
                failed.setdefault(name, []).append((obs.index, excerpt(text, missing.start(), missing.end())))
        elif verb in _READ_VERBS:
            if text and not _NEVER_RAN.search(text[:3000]):
                found.update(named)  # read, listed or found: it is there
            elif _FIND.search(action.text):
                for name in named:
                    failed.setdefault(name, []).append((obs.index, "find printed nothing"))
    # A file the agent wrote before it ever failed to read it is its own output; one it created only after
    # finding it missing (an empty folder to copy from) was still missing.
    written = _written(ctx) if failed else {}
    missing_names = sorted(n for n in failed if n not in found and written.get(n, 1 << 30) > failed[n][0][0])
    attempts = sorted({hit for n in missing_names for hit in failed[n]})
    if len({i for i, _ in attempts}) < MIN_FAILED_READS:
        return []  # separate attempts: one long output naming two files is one attempt
    index, shown = attempts[0]
    return [
        Detection(
            detector="task_files_missing",
            category="infrastructure",
            message_index=index,
            excerpt=shown,
            detail={
                "missing": missing_names,
                "failed": len(attempts),
                "indices": [i for i, _ in attempts][:20],
                "cause": "task_files_missing",
                "cause_detail": normalize(", ".join(missing_names), 80),
                "contrast": ",".join(missing_names),
                "confidence": 0.8,
            },
        )
    ]
