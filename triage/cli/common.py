"""Options and output helpers shared by every CLI command.

Kept light: `triage --help` imports this with every command module, so the workspace (sqlite-utils, which
loads numpy and pandas when installed) and the loader registry are imported when a command needs them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import orjson
import typer
from rich.console import Console, ConsoleDimensions
from rich.text import Text

from triage.config import DB_ENV, REVIEWER_ENV, default_db_path
from triage.display import LiteralConsole

if TYPE_CHECKING:
    import sqlite3

    from triage.db.sqlite import Database

T = TypeVar("T")

# Every command prints through these two consoles: strings are never markup and no control character from
# the data reaches the terminal (see triage.display). Style with style=/Text.assemble, never markup.
# Rich writes progress and errors to stderr so stdout stays clean for --json and pipes.
err_console = LiteralConsole(stderr=True)
PIPED_WIDTH = 200


class _OutConsole(LiteralConsole):
    """stdout: the terminal's width, or ``$COLUMNS`` when set, both read at each print (not frozen when the
    module is first imported); piped output is read by scripts and pagers, so wide tables stay whole there."""

    def __init__(self) -> None:
        super().__init__()
        self._width = None  # Rich fixes the width from $COLUMNS at construction; we read it live instead

    @property
    def size(self) -> ConsoleDimensions:
        base = Console.size.fget(self)
        if not self.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
            return ConsoleDimensions(PIPED_WIDTH, base.height)
        return base

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


out_console = _OutConsole()

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar=DB_ENV,
        help=f"Workspace database (default: ${DB_ENV} or runs/triage.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ReviewerOption = Annotated[
    str | None,
    typer.Option(
        "--reviewer",
        envvar=REVIEWER_ENV,
        help=f"Reviewer name (default: ${REVIEWER_ENV}, git user.name, or the OS user).",
        show_default=False,
    ),
]


def table_console(width: int) -> LiteralConsole:
    """Where a wide table goes: the terminal as it is, or (piped) a console ``width`` columns wide so rows
    stay whole for scripts and pagers. Literal like every other output."""
    return out_console if out_console.is_terminal else LiteralConsole(width=width)


def db_path(db: Path | None) -> Path:
    return db if db is not None else default_db_path()


def open_workspace(db: Path | None, *, create: bool = True) -> Database:
    """Open the workspace or exit with code 2 and a clear message."""
    from triage.db import open_db

    return _opened(open_db, db, create)


def open_connection(db: Path | None, *, create: bool = True) -> sqlite3.Connection:
    """The workspace's plain connection (:func:`triage.db.connect`), for commands that only run SQL."""
    from triage.db import connect

    return _opened(connect, db, create)


def _opened(opener: Callable[..., T], db: Path | None, create: bool) -> T:
    from triage.db import WorkspaceError

    try:
        return opener(db_path(db), create=create)
    except WorkspaceError as exc:
        fail(str(exc), code=2)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code`` (1: failed work, 2: bad usage or input)."""
    # The message is data (paths, quoted input): never markup; soft-wrapped so a piped stderr keeps whole lines.
    err_console.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def report_broken_loaders(*, plugins_only: bool = False) -> dict[str, str]:
    """Say on stderr which format loaders (plug-ins included) failed to load; returns them by name.

    ``plugins_only``: built-in loaders are looked up, not imported (:func:`triage.plugins.broken_plugins`).
    """
    if plugins_only:
        from triage.plugins import broken_plugins

        broken = broken_plugins()
    else:
        from triage.importers import broken_loaders

        broken = broken_loaders()
    for name, error in broken.items():
        err_console.print(
            Text.assemble(("error:", "bold red"), f" the {name!r} loader failed to load ({error}); files only it reads "
                          "cannot be imported"),
            highlight=False, soft_wrap=True,
        )  # fmt: skip
    return broken


def print_json(value: Any) -> None:
    """Write ``value`` as indented JSON to stdout."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode())
    sys.stdout.write("\n")
    sys.stdout.flush()


def is_tty() -> bool:
    return sys.stdout.isatty() and sys.stdin.isatty()
