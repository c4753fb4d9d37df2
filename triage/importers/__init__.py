"""Format loaders and their registry.

Loaders are discovered through the ``triage.loaders`` entry-point group, so third-party formats
install like the built-in ones; when the package is not installed (running from a source tree) the
built-in modules are loaded directly.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from triage.importers._common import top_level_keys
from triage.importers.base import SNIFF_BYTES, Loader, LoadError, LoadOptions, SourceInfo
from triage.plugins import BUILTIN, GROUP

__all__ = [
    "Loader",
    "LoadError",
    "LoadOptions",
    "SourceInfo",
    "broken_loaders",
    "loaders",
    "get_loader",
    "sniff",
    "refusals",
    "why_not",
]


def _load_ref(ref: str) -> Loader:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


_BROKEN: dict[str, str] = {}


@cache
def loaders() -> dict[str, Loader]:
    """Every loader that loaded, by name, in sniffing order (those that failed: :func:`broken_loaders`)."""
    found: dict[str, Loader] = {}
    broken: dict[str, str] = {}
    for ep in entry_points(group=GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # noqa: BLE001 - any failure of a plug-in's import is reported, never fatal
            broken[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"
    for name, ref in BUILTIN.items():
        if name not in found and name not in broken:  # running from a source tree: no entry points
            try:
                found[name] = _load_ref(ref)
            except Exception as exc:  # noqa: BLE001 - as above
                broken[name] = f"{ref}: {type(exc).__name__}: {exc}"
    _BROKEN.clear()
    _BROKEN.update(broken)
    return dict(sorted(found.items(), key=lambda kv: (kv[1].priority, kv[0])))


def broken_loaders() -> dict[str, str]:
    """Loaders that failed to load, by name: ``{name: "module:attr: ExceptionType: message"}``.

    The other loaders still work, but a file only a broken loader reads cannot be imported: `import`
    and `validate` report them on stderr and fail for files no working loader reads; `info` lists them.
    """
    loaders()
    return dict(_BROKEN)


def get_loader(name: str) -> Loader:
    """The loader called ``name``; raises KeyError listing the known names."""
    table = loaders()
    if name not in table:
        raise KeyError(f"unknown format {name!r}; known formats: {', '.join(table)}")
    return table[name]


def read_head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(SNIFF_BYTES)


def sniff(path: Path, head: bytes | None = None) -> Loader | None:
    """The first loader that recognises ``path``, or None."""
    head = read_head(path) if head is None else head
    for loader in loaders().values():
        try:
            if loader.sniff(path, head):
                return loader
        except Exception:  # a sniffer must never break the walk; treat as "not mine"
            continue
    return None


def why_not(path: Path, head: bytes | None = None) -> list[tuple[str, str]]:
    """Why each loader refuses ``path``: ``[(format, reason)]``, closest first (loaders that claim it left out).

    Closest: loaders whose ``explain`` recognises something of their format in the file; then loaders
    that read this kind of file (by extension) but found nothing of theirs; then loaders of other file
    types. Within each group, sniffing order.
    """
    head = read_head(path) if head is None else head
    content = _describe_content(head)
    ranked: list[tuple[int, int, str, str]] = []
    for order, (name, loader) in enumerate(loaders().items()):
        try:
            if loader.sniff(path, head):
                continue
        except Exception as exc:  # noqa: BLE001 - a failing sniffer is a refusal worth naming
            ranked.append((1, order, name, f"its check failed ({type(exc).__name__}: {exc})"))
            continue
        if loader.extensions and not path.name.lower().endswith(tuple(e.lower() for e in loader.extensions)):
            wanted = ", ".join(loader.extensions)
            ranked.append((3, order, name, f"reads only files named *{wanted.replace(', ', ', *')}"))
            continue
        reason = None
        if loader.explain is not None:
            try:
                reason = loader.explain(path, head)
            except Exception:  # noqa: BLE001 - fall back to the generic reason
                reason = None
        if reason:
            ranked.append((1, order, name, reason))
        else:
            ranked.append((2, order, name, f"content not recognised ({content})"))
    return [(name, reason) for _, _, name, reason in sorted(ranked)]


def _describe_content(head: bytes) -> str:
    """A short, literal-safe description of a file's start, for refusal reasons."""
    if not head.strip():
        return "the file is empty"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        keys = list(top_level_keys(head))
        if keys:
            shown = ", ".join(repr(k[:40]) for k in keys[:8]) + (", ..." if len(keys) > 8 else "")
            where = "first record's" if text[:1] == b"[" else "top-level"
            return f"JSON with {where} keys {shown}"
        return "JSON without object records" if text[:1] == b"[" else "JSON that does not start with an object"
    if text[:2] == b"PK":
        return "a zip archive"
    if b"\x00" in text[:1024]:
        return "binary content"
    first = text.split(b"\n", 1)[0][:60].decode("utf-8", errors="replace")
    return f"text starting {first!r}"  # repr: control characters never reach a terminal


def refusals(path: Path, head: bytes | None = None) -> str:
    """:func:`why_not` as one line for an error message, closest first, formats with one reason grouped."""
    grouped: dict[str, list[str]] = {}
    for name, reason in why_not(path, head):
        grouped.setdefault(reason, []).append(name)
    if not grouped:
        return "every format's check accepted it"
    return "formats tried, closest first: " + "; ".join(
        f"{', '.join(names)}: {reason}" for reason, names in grouped.items()
    )


def is_companion(path: Path, head: bytes) -> bool:
    """True when some loader reads ``path`` as a side file of another (results.json, reports)."""
    for loader in loaders().values():
        if loader.companion is None:
            continue
        try:
            if loader.companion(path, head):
                return True
        except Exception:
            continue
    return False
