"""Helpers the built-in loaders share: cheap JSON sniffing from a file's head, JSON reading with
precise error places, text flattening, timestamps and generic directory names.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from triage.importers.base import LoadError
from triage.limits import MAX_DEPTH

__all__ = [
    "epoch_ms_to_iso",
    "flatten_text",
    "iter_jsonl",
    "truncated_json",
    "json_events",
    "meaningful_dir",
    "number",
    "read_json",
    "seconds_between",
    "top_level_keys",
    "value_at",
]

# Directory names that say nothing about which agent produced the files inside.
GENERIC_DIRS = {
    "traj", "trajs", "trajectories", "trajectory", "logs", "log", "results", "result", "output", "outputs",
    "runs", "run", "agent", "data", "eval", "evals", "evaluation", "jobs", "tmp",
}  # fmt: skip


# A JSON string (its closing quote captured: a head cut off inside a string has none) or a bracket or comma.
# Everything else (numbers, literals, colons, white space) lies between tokens and the regex engine skips it.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(")?|[{}\[\],]', re.S)  # the string loop unrolled: fast in re
_NESTED = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(")?|[{}\[\]]', re.S)  # inside a member's value commas do not matter
_SPACE = " \t\r\n"


@functools.lru_cache(maxsize=16)  # every loader's sniffer asks about the same head
def top_level_keys(head: bytes) -> Mapping[str, int]:
    """Keys of the first JSON object in ``head`` (or of the first element of a top-level array).

    Tolerates truncation: ``head`` is only the first bytes of the file, so the object may not end.
    Returns each key with the offset (in the decoded text) where its value starts; empty when the head
    does not start with a JSON object or array. Read-only: the answer is shared by every caller.
    """
    text = head_text(head)
    if text.startswith("["):
        text = text[1:].lstrip(_SPACE)
    if not text.startswith("{"):
        return MappingProxyType({})
    keys: dict[str, int] = {}
    depth, expect_key, n, pos = 0, False, len(text), 0
    while token := (_TOKEN if depth <= 1 else _NESTED).search(text, pos):
        pos, c = token.end(), text[token.start()]
        if c == '"':
            if token.group(1) is None:
                break  # the head ends inside this string
            if depth == 1 and expect_key:
                k = token.end()
                while k < n and text[k] in _SPACE:
                    k += 1
                if k < n and text[k] == ":":
                    k += 1
                    while k < n and text[k] in _SPACE:
                        k += 1
                    keys[text[token.start() + 1 : token.end() - 1]] = k
                expect_key = False
        elif c in "{[":
            depth += 1
            expect_key = depth == 1
        elif c in "}]":
            depth -= 1
            if depth <= 0:
                break
        elif depth == 1:  # a comma between members
            expect_key = True
    return MappingProxyType(keys)


def head_text(head: bytes) -> str:
    return head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")


def value_at(head: bytes, key: str) -> str:
    """The start (up to 4,000 characters) of the raw JSON value of top-level ``key``, or ''."""
    text = head_text(head)
    if text.startswith("["):
        text = text[1:].lstrip(_SPACE)
    offset = top_level_keys(head).get(key)
    return "" if offset is None else text[offset : offset + 4000]


def looks_like_message_list(raw_value: str) -> bool:
    """True when a raw JSON value (from :func:`value_at`) starts a list of ``{"role": ...}`` objects.

    ``role`` must be a key of the first element itself: a list of records that merely nest role-tagged
    objects (tau2-bench voice ``ticks`` with ``agent_chunk.role``) is not a chat.
    """
    text = raw_value.lstrip(" \t\r\n")
    if not text.startswith("["):
        return False
    return "role" in top_level_keys(text.encode())


def truncated_json(path: Path, head: bytes) -> bool:
    """Whether ``path`` starts like a JSON document but stops before it closes (an interrupted write).

    Cheap (the head and the last bytes only): a directory walk calls it for files no loader recognised,
    since a truncated transcript loses what names its format (mini-swe-agent writes it last).
    """
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start not in (b"{", b"["):
        return False
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 64))
            tail = fh.read().rstrip(b" \t\r\n")
    except OSError:
        return False
    return not tail.endswith(b"}" if start == b"{" else b"]")


def json_error_place(exc: orjson.JSONDecodeError, line_offset: int = 0) -> str:
    return f"line {exc.lineno + line_offset}, column {exc.colno}"


def read_json(path: Path) -> Any:
    """Parse a whole JSON file; a syntax error becomes a LoadError naming the line and column."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, None, f"cannot read file ({exc.strerror or exc})") from exc
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise LoadError(path, json_error_place(exc), f"invalid JSON ({exc.msg})") from exc


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line_number, value)`` for each non-empty line, read one line at a time.

    A line that is not valid JSON raises a LoadError naming that line.
    """
    with open(path, "rb") as fh:
        first = True
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield number, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                message = f"invalid JSON ({exc.msg})"
                if first and line.strip()[:1] in (b"{", b"[") and "end of data" in exc.msg:
                    # A pretty-printed JSON document read as JSON Lines: say so, not just "end of data".
                    message = ("expected JSON Lines (one whole JSON record per line), but line 1 starts a JSON "
                               "value that continues on later lines (a pretty-printed JSON document?)")  # fmt: skip
                raise LoadError(path, f"line {number}, column {exc.colno}", message) from exc
            first = False


def flatten_text(content: Any) -> str:
    """Plain text from a message content: a string, a list of parts (``{type, text}``), or None."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                kind = part.get("type")
                if isinstance(part.get("text"), str):
                    parts.append(part["text"])
                elif kind in ("image", "image_url", "input_image"):
                    parts.append("[image]")
                elif kind in ("audio", "input_audio"):
                    parts.append("[audio]")
                elif isinstance(part.get("content"), str | list):
                    parts.append(flatten_text(part["content"]))
                elif isinstance(part.get("reasoning"), str):
                    parts.append(part["reasoning"])
        return "\n".join(p for p in parts if p)
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            return content["text"]
        return orjson.dumps(content).decode()
    return str(content)


# Epoch milliseconds before 2000-01-01 are durations or placeholders (METR's human runs start at 0).
_MIN_EPOCH_MS = 946_684_800_000


def epoch_ms_to_iso(value: float | None) -> str | None:
    if value is None or value < _MIN_EPOCH_MS:
        return None
    return _dt.datetime.fromtimestamp(value / 1000, _dt.UTC).isoformat(timespec="milliseconds")


def parse_iso(value: Any) -> _dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=_dt.UTC)


def seconds_between(start: Any, end: Any) -> float | None:
    a, b = parse_iso(start), parse_iso(end)
    if a is None or b is None or b < a:
        return None
    return (b - a).total_seconds()


def meaningful_dir(path: Path, levels: int = 3) -> str | None:
    """The nearest parent directory name of ``path`` that is not generic (``trajs``, ``logs``...)."""
    parent = path.parent
    for _ in range(levels):
        name = parent.name
        if not name:
            return None
        if name.lower() not in GENERIC_DIRS:
            return name
        parent = parent.parent
    return None


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: for optional fields a loader can do without
    (a model name, token counts), so a mistyped one is read as absent rather than crashing the file."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one (see :func:`as_dict`)."""
    return value if isinstance(value, list) else []


def text_or_none(value: Any) -> str | None:
    """A JSON string or number as text (ids, names), else None."""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def number(value: Any) -> float | None:
    """``value`` as a float when it is a JSON number (bools excluded), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def ancestors(path: Path, levels: int) -> Iterator[Path]:
    """The directory of ``path`` and up to ``levels - 1`` of its parents."""
    current = path.resolve().parent
    for _ in range(levels):
        yield current
        if current.parent == current:
            return
        current = current.parent


class CountingReader:
    """A file wrapper that knows how far a streaming parser has read (for error positions)."""

    def __init__(self, fh: Any):
        self.fh, self.pos = fh, 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.pos += len(data)
        return data


def json_events(source: Any, max_depth: int = MAX_DEPTH) -> Iterator[tuple[str, str, Any]]:
    """ijson ``(prefix, event, value)`` events of ``source`` (a binary file), refusing nesting deeper than
    ``max_depth`` with an ``ijson.JSONError`` (so the callers' handlers report it with its place).

    Every streaming JSON reader goes through this: ijson builds each event's prefix from the whole path,
    so a file nested 100,000 deep would take memory and time growing with the square of the depth.
    The depth is checked on the basic events, before any prefix exists.
    """
    import ijson

    def bounded() -> Iterator[tuple[str, Any]]:
        depth = 0
        for event, value in ijson.basic_parse(source, use_float=True):
            if event == "start_map" or event == "start_array":
                depth += 1
                if depth > max_depth:
                    raise ijson.JSONError(f"nested more than {max_depth} levels deep; expected at most {max_depth}")
            elif event == "end_map" or event == "end_array":
                depth -= 1
            yield event, value

    return ijson.parse(bounded())


def stream_items(path: Path, prefix: str, place: str, expected: str) -> Iterator[tuple[str, Any]]:
    """``(place, item)`` for each element of the JSON array at ``prefix`` (ijson: ``"item"`` for a
    top-level array, ``"results.item"`` for a member), read one element at a time so memory follows the
    largest element, not the file. ``place`` names the array in errors (``results`` -> ``results[3]``);
    broken JSON raises a LoadError naming the element being read, the byte offset and ``expected``.
    """
    import ijson

    where = f"{place}[0]"
    with open(path, "rb") as fh:
        reader = CountingReader(fh)
        try:
            for index, item in enumerate(ijson.items(json_events(reader), prefix)):
                where = f"{place}[{index}]"
                yield where, item
                where = f"{place}[{index + 1}]"
        except ijson.JSONError as exc:
            detail = str(exc).strip() or "parse error"
            place_read = f"{where}, near byte {reader.pos}"
            raise LoadError(path, place_read, f"invalid JSON ({detail}); expected {expected}") from exc


def stream_sections(path: Path, arrays: tuple[str, ...], expected: str) -> Iterator[tuple[str, Any, str]]:
    """``(key, value, place)`` for each top-level member of the JSON object in ``path``, in file order;
    members named in ``arrays`` are yielded one element at a time (``place`` ``key[i]``), so memory follows
    the largest element. Broken JSON, or a top level that is not an object, raises a LoadError naming the
    member being read, the byte offset and ``expected``.
    """
    import ijson

    place = "$"
    with open(path, "rb") as fh:
        reader = CountingReader(fh)
        events = json_events(reader)
        try:
            first = next(events, None)
            if first is None or first[1] != "start_map":
                raise LoadError(path, None, f"expected {expected}")
            for prefix, event, value in events:
                if prefix != "" or event != "map_key":
                    continue
                key = place = value
                _, start, start_value = next(events)
                if key not in arrays or start != "start_array":
                    yield key, _build(events, start, start_value), place
                    continue
                index = 0
                for item_prefix, item_event, item_value in events:
                    if item_event == "end_array" and item_prefix == key:
                        break
                    place = f"{key}[{index}]"
                    yield key, _build(events, item_event, item_value), place
                    index += 1
        except ijson.JSONError as exc:
            detail = str(exc).strip() or "parse error"
            where = f"{place}, near byte {reader.pos}"
            raise LoadError(path, where, f"invalid JSON ({detail}); expected {expected}") from exc


def _build(events: Iterator[tuple[str, str, Any]], event: str, value: Any) -> Any:
    """The whole value that starts with ``(event, value)``, built from the following events."""
    import ijson

    if event not in ("start_map", "start_array"):
        return value
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    depth = 1
    for _, inner, inner_value in events:
        builder.event(inner, inner_value)
        depth += inner in ("start_map", "start_array")
        depth -= inner in ("end_map", "end_array")
        if depth == 0:
            break
    return builder.value
