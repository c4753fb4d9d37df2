"""Reading Inspect ``.eval`` logs (zip archives) one member at a time.

Provides :class:`EvalZip`: the log's header (``header.json``, or ``_journal/start.json`` for a log
that never finished), the list of samples in write order, and each sample as a plain dict, parsed
with orjson from one member (or, for Inspect's chunked sample shape, from its shell and message
chunks). Nothing else of the archive is held in memory, so memory follows the largest sample,
not the log.

Current Inspect writes members zstd-compressed (zip method 93), which :mod:`zipfile` reads only from
Python 3.14; those members are decompressed here with ``zstandard`` (multi-frame aware, CRC checked).
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import orjson

from triage.importers.base import LoadError

HEADER = "header.json"
START = "_journal/start.json"
ZIP_ZSTANDARD = 93
_ENCRYPTED = 0x1  # general purpose flag bit 0: zipfile's reader says what it needs (a password)
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zip local file header (30 bytes)
_MONOLITH = re.compile(r"^samples/(?P<id>.+)_epoch_(?P<epoch>\d+)\.json$")
_CHUNKED_SHELL = re.compile(r"^samples/(?P<id>.+)_epoch_(?P<epoch>\d+)/sample\.json$")
_ATTACHMENT = "attachment://"


@dataclass
class SampleEntry:
    """Where one sample lives in the archive: a single member, or a chunked sample's prefix."""

    name: str  # the member (monolith) or the shell member (chunked)
    chunked: bool = False

    @property
    def prefix(self) -> str:
        return self.name.rsplit("/", 1)[0] + "/"


class EvalZip:
    """An open ``.eval`` archive; raises :class:`LoadError` naming the file and member on bad input."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise LoadError(
                path,
                None,
                f"not a readable zip archive ({exc}): the file is truncated or corrupt; expected an Inspect "
                ".eval log (a zip with header.json or _journal/start.json)",
            ) from exc
        except OSError as exc:
            raise LoadError(path, None, f"cannot read file ({exc.strerror or exc})") from exc
        # A zip may hold a member name twice (Inspect rewrites header.json by appending); the last wins.
        self.members: dict[str, zipfile.ZipInfo] = {info.filename: info for info in self.zf.infolist()}
        self._dctx: Any = None  # the zstd decompression context, made at the first zstd member

    def close(self) -> None:
        self.zf.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, name: str) -> bool:
        return name in self.members

    def read_bytes(self, name: str) -> bytes:
        """One member's bytes, decompressed and CRC-checked."""
        info = self.members.get(name)
        if info is None:
            raise LoadError(self.path, name, "member missing from the archive")
        try:
            if info.compress_type in (ZIP_ZSTANDARD, zipfile.ZIP_DEFLATED) and not info.flag_bits & _ENCRYPTED:
                return self._read_direct(info)
            return self.zf.read(info)
        except LoadError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
            raise LoadError(self.path, name, f"cannot decompress member ({exc}): truncated or corrupt") from exc

    def _read_direct(self, info: zipfile.ZipInfo) -> bytes:
        """A zstd or deflate member decompressed in one call: zipfile's buffered reader costs a third as much
        again on small members, and it knows no zstd."""
        fp = self.zf.fp
        assert fp is not None
        fp.seek(info.header_offset)
        header = fp.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise LoadError(self.path, info.filename, "bad local file header: the archive is corrupt")
        fields = _LOCAL_HEADER.unpack(header)
        fp.seek(info.header_offset + _LOCAL_HEADER.size + fields[10] + fields[11])  # name and extra lengths
        raw = fp.read(info.compress_size)
        if len(raw) < info.compress_size:
            raise LoadError(
                self.path,
                info.filename,
                f"truncated member: {len(raw)} of {info.compress_size} compressed bytes present",
            )
        data = self._zstd(info, raw) if info.compress_type == ZIP_ZSTANDARD else zlib.decompress(raw, -15)
        if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
            raise LoadError(self.path, info.filename, "member fails its CRC/size check: the archive is corrupt")
        return data

    def _zstd(self, info: zipfile.ZipInfo, raw: bytes) -> bytes:
        import zstandard  # imported lazily: only current Inspect logs need it

        try:
            # One decompression context per archive: creating one per member costs as much as the decompression.
            if self._dctx is None:
                self._dctx = zstandard.ZstdDecompressor()
            # Inspect splits large members into several zstd frames: read across them.
            with self._dctx.stream_reader(raw, read_across_frames=True) as reader:
                return reader.read()
        except zstandard.ZstdError as exc:
            raise LoadError(
                self.path, info.filename, f"cannot decompress zstd member ({exc}): truncated or corrupt"
            ) from exc

    def read_json(self, name: str) -> Any:
        return self._loads(name, self.read_bytes(name))

    def _loads(self, name: str, data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise LoadError(
                self.path,
                name,
                f"invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}); expected a JSON object",
            ) from exc

    def header(self) -> tuple[dict[str, Any], bool]:
        """The log header and whether it is complete (``header.json``) or only the start journal."""
        if self.has(HEADER):
            data, complete = self.read_json(HEADER), True
            name = HEADER
        elif self.has(START):
            data, complete = self.read_json(START), False
            name = START
        else:
            raise LoadError(
                self.path, None, f"neither {HEADER} nor {START} in the archive; expected an Inspect .eval log"
            )
        if not isinstance(data, dict) or not isinstance(data.get("eval"), dict):
            raise LoadError(self.path, f"{name}: field 'eval'", "missing; expected the eval spec (an object)")
        return data, complete

    def samples(self) -> list[SampleEntry]:
        """Sample entries in the order they were written."""
        entries = []
        for name in self.members:
            if _MONOLITH.match(name) and not _CHUNKED_SHELL.match(name):
                entries.append(SampleEntry(name))
            elif _CHUNKED_SHELL.match(name):
                entries.append(SampleEntry(name, chunked=True))
        return entries

    def read_sample(self, entry: SampleEntry) -> dict[str, Any]:
        """One sample as a dict (chunked samples are reassembled: messages and their attachments)."""
        data = self.read_bytes(entry.name)
        sample = without_events(data)
        if sample is None:
            sample = self._loads(entry.name, data)
        if not isinstance(sample, dict):
            raise LoadError(self.path, entry.name, f"expected a JSON object, found {type(sample).__name__}")
        if entry.chunked:
            sample["messages"] = self._chunked_messages(entry, sample)
            sample["attachments"] = _LazyAttachments(self, entry)
        return sample

    def _chunks(self, prefix: str) -> Iterator[str]:
        starts = []
        for name in self.members:
            if name.startswith(prefix):
                stem = name[len(prefix) :].removesuffix(".json")
                if stem.isdigit():
                    starts.append((int(stem), name))
        return (name for _, name in sorted(starts))

    def _chunked_messages(self, entry: SampleEntry, shell: dict[str, Any]) -> list[Any]:
        pool: list[Any] = []
        for name in self._chunks(entry.prefix + "messages/"):
            chunk = self.read_json(name)
            if not isinstance(chunk, list):
                raise LoadError(self.path, name, "expected a JSON array of messages")
            pool.extend(chunk)
        refs = shell.get("message_refs")
        if refs is None:
            return pool
        messages: list[Any] = []
        for ref in refs:  # range-encoded [start, end) refs into the message pool
            if not (isinstance(ref, list) and len(ref) == 2):
                raise LoadError(self.path, f"{entry.name}: field 'message_refs'", "expected [start, end] pairs")
            messages.extend(pool[ref[0] : ref[1]])
        return messages


class _LazyAttachments(dict):
    """A chunked sample's attachments (``attachment://<index>``), read only if a message refers to one."""

    def __init__(self, archive: EvalZip, entry: SampleEntry):
        super().__init__()
        self._archive, self._entry, self._loaded = archive, entry, False

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if not self._loaded:
            values: list[Any] = []
            for name in self._archive._chunks(self._entry.prefix + "attachments/"):
                values.extend(self._archive.read_json(name))
            self.update({str(i): v for i, v in enumerate(values)})
            self._loaded = True
        return super().get(key, default)


def resolve_attachment(text: str, attachments: dict[str, Any] | None) -> str:
    """The content an ``attachment://`` reference points to (the text itself otherwise)."""
    if attachments is not None and text.startswith(_ATTACHMENT):
        value = attachments.get(text[len(_ATTACHMENT) :])
        if isinstance(value, str):
            return value
    return text


def is_eval_zip(path: Path, head: bytes) -> bool:
    """A ``.eval`` file, or any zip archive holding ``header.json`` or ``_journal/start.json``."""
    if path.suffix == ".eval":
        return True  # even a broken one: this loader reports precisely why it cannot be read
    if not head.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return HEADER in names or START in names


# A sample's ``events`` (the full event log: two thirds of a sample's bytes in real agentic logs) is never
# read by triage. Inspect's EvalSample declares ``model_usage`` right after ``events`` and writes them in that
# order (compact or indented), so the array can be cut out of the bytes before parsing. (A key ever declared
# between the two would go with the events; every field triage reads is declared elsewhere.)
_EVENTS_KEY = b'"events"'
_USAGE_KEY = b'"model_usage"'
_SPACE = b" \t\r\n"
_EVENT_CUT_TRIES = 3


def without_events(data: bytes) -> dict[str, Any] | None:
    """The sample in ``data`` with ``events`` empty, parsed without reading the events; None when the
    bytes are not laid out as expected (then the caller parses the whole sample)."""
    usage = data.rfind(_USAGE_KEY)
    comma = _before(data, usage)
    if comma < 0 or data[comma] != ord(",") or data[_before(data, comma)] != ord("]"):
        return None
    # What follows the events is a JSON object of its own only if the cut is at the top level.
    tail = _object(b"{" + data[comma + 1 :])
    if tail is None or "model_usage" not in tail:
        return None
    key = data.find(_EVENTS_KEY)
    for _ in range(_EVENT_CUT_TRIES):
        if not 0 <= key < comma:
            return None
        before = _before(data, key)
        if before >= 0 and data[before] == ord(","):
            # So is what precedes them (a nested "events" key leaves an object unclosed: try the next one).
            head = _object(data[:before] + b"}")
            if head is not None:
                return {**head, "events": [], **tail}
        key = data.find(_EVENTS_KEY, key + 1)
    return None


def _before(data: bytes, index: int) -> int:
    """The index of the last non-space byte before ``index`` (-1 if none)."""
    index -= 1
    while index >= 0 and data[index] in _SPACE:
        index -= 1
    return index


def _object(data: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
