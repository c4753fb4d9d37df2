"""Loader for Inspect AI logs: ``.eval`` (zip) and ``.json``.

Every sample epoch becomes a :class:`~triage.models.Run` with its messages, tool calls and tool
errors, scores, sample error and limit, timings and token usage. Samples are read one at a time
(a zip member each, or streamed out of a large ``.json`` with ijson), so memory follows the largest
sample, not the log. Logs that crashed (no ``header.json``, only ``_journal/start.json``), cancelled
logs and logs without samples import as they are; the log's own status is reported in
:class:`~triage.importers.base.SourceInfo`.

Run ids are ``<task>@<eval id>/<sample id>/<epoch>``: readable, stable across re-imports, and the same
for copies of one log (a ``.eval`` and its ``.json`` conversion), which the importer then counts once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from triage.importers._common import CountingReader, json_events
from triage.importers.base import Item, Loader, LoadError, LoadOptions
from triage.importers.inspect_sample import LogContext, field_error, sample_to_run, source_info
from triage.importers.inspect_zip import EvalZip, SampleEntry, is_eval_zip

# .json logs above this size are streamed sample by sample (ijson) instead of parsed whole (orjson).
# Parsed whole, a log costs ~3x its size in memory (bench/import.py --json-mb 300: 959 MB peak for a
# 315 MB log, 200 MB streamed, at the same speed); below this size whole parsing is simplest and fast.
JSON_STREAM_BYTES = 32 * 1024 * 1024
_JSON_HEAD = (
    re.compile(rb'"eval"\s*:\s*\{'),
    re.compile(rb'"(?:task|task_id)"\s*:'),
    re.compile(rb'"version"\s*:\s*\d'),
    re.compile(rb'"status"\s*:\s*"'),
)


# ---------------------------------------------------------------------------------------------
# sniffing


def sniff(path: Path, head: bytes) -> bool:
    """An ``.eval`` archive, or a JSON object whose head has Inspect's log keys."""
    if path.suffix == ".eval" or head.startswith(b"PK\x03\x04"):
        return is_eval_zip(path, head)
    stripped = head.lstrip()
    return stripped.startswith(b"{") and all(p.search(head) for p in _JSON_HEAD)


# ---------------------------------------------------------------------------------------------
# .eval archives


def _load_eval(path: Path, options: LoadOptions) -> Iterator[Item]:
    with EvalZip(path) as archive:
        header, complete = archive.header()
        ctx = LogContext(path, header, options, "header.json" if complete else "_journal/start.json")
        yield source_info(path, header, complete)
        for entry in archive.samples():
            yield sample_to_run(archive.read_sample(entry), ctx, entry.name)


# A large .eval is split into parts of about this many compressed bytes of samples, parsed in parallel.
PART_BYTES = 512 * 1024
_open_part: tuple[tuple, EvalZip, dict[str, Any], bool, list[SampleEntry]] | None = None


def eval_parts(path: Path) -> list[tuple[int, int]]:
    """``(start, stop)`` ranges of an ``.eval``'s samples, in write order, of about PART_BYTES each."""
    if not (path.suffix == ".eval" or _is_zip(path)):
        return []
    with EvalZip(path) as archive:
        parts, start, size = [], 0, 0
        entries = archive.samples()
        for index, entry in enumerate(entries):
            size += archive.members[entry.name].compress_size
            if size >= PART_BYTES:
                parts.append((start, index + 1))
                start, size = index + 1, 0
        if start < len(entries) or not parts:
            parts.append((start, len(entries)))
    return parts


def _archive(path: Path) -> tuple[EvalZip, dict[str, Any], bool, list[SampleEntry]]:
    """The open archive, header and sample list of ``path``, kept open for the next part of the same file.

    Kept per process: a worker forked while this process had the archive open would share its file offset,
    and two processes seeking in one open file read each other's bytes."""
    global _open_part
    stat = path.stat()
    key = (os.getpid(), str(path), stat.st_mtime_ns, stat.st_size)
    if _open_part is None or _open_part[0] != key:
        if _open_part is not None:
            _open_part[1].close()
            _open_part = None
        archive = EvalZip(path)
        try:
            header, complete = archive.header()
            entries = archive.samples()
        except BaseException:
            archive.close()
            raise
        _open_part = (key, archive, header, complete, entries)
    return _open_part[1:]


def load_eval_part(path: Path, options: LoadOptions, part: tuple[int, int]) -> Iterator[Item]:
    """The items of samples ``part`` of an ``.eval``: with the first part, the log's SourceInfo (as ``load``)."""
    archive, header, complete, entries = _archive(path)
    ctx = LogContext(path, header, options, "header.json" if complete else "_journal/start.json")
    start, stop = part
    if start == 0:
        yield source_info(path, header, complete)
    for entry in entries[start:stop]:
        yield sample_to_run(archive.read_sample(entry), ctx, entry.name)


# ---------------------------------------------------------------------------------------------
# .json logs


def _json_error(path: Path, exc: orjson.JSONDecodeError) -> LoadError:
    return LoadError(
        path,
        f"line {exc.lineno}, column {exc.colno} (byte {exc.pos})",
        f"invalid JSON ({exc.msg}); expected a complete Inspect JSON log",
    )


def _load_json(path: Path, options: LoadOptions) -> Iterator[Item]:
    if path.stat().st_size > JSON_STREAM_BYTES:
        yield from _load_json_streaming(path, options)
        return
    try:
        log = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        # Find which sample is broken: stream the file (what it yields is rolled back with the error).
        try:
            yield from _load_json_streaming(path, options)
        except LoadError as located:
            # The streaming reader's depth bound says more than orjson's "depth limit exceeded".
            too_deep = "nested more than" in located.message
            raise LoadError(
                path,
                f"{located.place} (line {exc.lineno}, column {exc.colno})",
                located.message if too_deep else f"invalid JSON ({exc.msg}); expected a complete Inspect JSON log",
            ) from exc
        raise _json_error(path, exc) from exc
    if not isinstance(log, dict):
        raise LoadError(path, None, f"found a JSON {type(log).__name__}; expected an Inspect log object")
    ctx = LogContext(path, log, options, "$")
    yield source_info(path, log, complete=True)
    samples = log.get("samples")
    if samples is None:
        return
    if not isinstance(samples, list):
        raise field_error(ctx, "$", "samples", "a list of samples", samples)
    for index, sample in enumerate(samples):
        yield sample_to_run(sample, ctx, f"samples[{index}]")


def _stream_header(reader: CountingReader) -> dict[str, Any]:
    """Top-level fields before ``samples`` (Inspect writes version, status, eval, plan, results first)."""
    import ijson

    header: dict[str, Any] = {}
    events = json_events(reader)
    for prefix, event, value in events:
        if prefix != "" or event != "map_key":
            continue
        if value == "samples" and "eval" in header:
            break
        # Build the value of this key; an unusual log with samples before eval gets them skipped, not built.
        builder = ijson.ObjectBuilder() if value != "samples" else None
        depth = 0
        for _, inner, inner_value in events:
            if builder is not None:
                builder.event(inner, inner_value)
            depth += inner in ("start_map", "start_array")
            depth -= inner in ("end_map", "end_array")
            if depth == 0:
                break
        if builder is not None:
            header[value] = builder.value
    return header


def _load_json_streaming(path: Path, options: LoadOptions) -> Iterator[Item]:
    import ijson

    place = "$"
    with open(path, "rb") as fh:
        reader = CountingReader(fh)
        try:
            header = _stream_header(reader)
            ctx = LogContext(path, header, options, "$")
            yield source_info(path, header, complete=True)
            fh.seek(0)
            reader.pos = 0
            place = "samples[0]"
            for index, sample in enumerate(ijson.items(json_events(reader), "samples.item")):
                place = f"samples[{index}]"
                yield sample_to_run(sample, ctx, place)
                place = f"samples[{index + 1}]"
        except ijson.JSONError as exc:
            raise LoadError(
                path,
                f"{place}, near byte {reader.pos}",
                f"invalid JSON ({str(exc).strip() or 'parse error'}); expected a complete Inspect JSON log",
            ) from exc


# ---------------------------------------------------------------------------------------------


def load(path: Path, options: LoadOptions) -> Iterator[Item]:
    """Runs of one Inspect log (``.eval`` or ``.json``), one sample at a time."""
    if path.suffix == ".eval" or _is_zip(path):
        yield from _load_eval(path, options)
    else:
        yield from _load_json(path, options)


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


LOADER = Loader(
    name="inspect",
    description="Inspect AI logs: .eval (zip) and .json, one run per sample epoch",
    sniff=sniff,
    load=load,
    priority=10,
    extensions=(".eval", ".json"),
    parts=eval_parts,
    load_part=load_eval_part,
)
