"""The ``triage`` command line: one typer app, commands registered by one module per feature, loaded lazily.

``triage NAME ...`` imports only the module of NAME (start-up is most of a quick command's time);
``triage --help``, an unknown name and ``from triage.cli import app`` load them all.
"""

from __future__ import annotations

import sys

import typer

from triage.cli.registry import SETTINGS
from triage.cli.registry import app as _registry

# Feature module -> the commands and groups it registers on the app. The order of the modules is the order
# of the commands in `triage --help`. Add a new feature module here: tests/test_cli_help.py checks that this
# table names every command the modules register, each with its own module. Real imports: a module that
# fails to import stops the CLI with its traceback, never a silently missing command.
MODULES: dict[str, tuple[str, ...]] = {
    "workspace": ("init", "info", "demo"),
    "imports": ("import", "validate", "runs"),
    "failures": ("analyze", "show"),
    "clustering": ("cluster", "clusters", "tree", "merge", "split", "move"),
    "labels": ("taxonomy", "label", "adjudicate", "labels"),
    "label_history": ("history", "undo", "redo", "conflicts"),
    "search": ("search", "group"),
    "scores": ("score",),
    "suggest": ("suggest", "suggestions"),
    "audit": ("audit", "signoff"),
    "agreement": ("agreement",),
    "export": ("export",),
    "loop": ("writeback", "rerun-plan", "check-labels", "compare"),
    "tui": ("tui",),
}
_MODULE_OF = {name: module for module, names in MODULES.items() for name in names}


def load_commands(names: tuple[str, ...] | None = None) -> typer.Typer:
    """The app with the modules of ``names`` (every module when None) imported, so their commands registered."""
    modules = MODULES if names is None else dict.fromkeys(_MODULE_OF[name] for name in names)
    for module in modules:
        _import(module)
    return _registry


def _import(module: str) -> None:
    # Real import statements, no string imports: a module that fails to import stops the CLI with its traceback.
    match module:
        case "workspace":
            from triage.cli import workspace  # noqa: F401
        case "imports":
            from triage.cli import imports  # noqa: F401
        case "failures":
            from triage.cli import failures  # noqa: F401
        case "clustering":
            from triage.cli import clustering  # noqa: F401
        case "search":
            from triage.cli import search  # noqa: F401
        case "labels":
            from triage.cli import labels  # noqa: F401
        case "label_history":
            from triage.cli import label_history  # noqa: F401
        case "scores":
            from triage.cli import scores  # noqa: F401
        case "suggest":
            from triage.cli import suggest  # noqa: F401
        case "audit":
            from triage.cli import audit  # noqa: F401
        case "agreement":
            from triage.cli import agreement  # noqa: F401
        case "export":
            from triage.cli import export  # noqa: F401
        case "loop":
            from triage.cli import loop  # noqa: F401
        case "tui":
            from triage.cli import tui  # noqa: F401
        case _:
            raise KeyError(module)


def __getattr__(name: str) -> typer.Typer:
    # `from triage.cli import app` (tests, scripts): the whole app, every command registered.
    if name == "app":
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def command_app(argv: list[str]) -> typer.Typer:
    """The app that runs ``argv``: for a known command, a group holding that command alone.

    typer turns every registered command's signature into a click command (pydantic adapters included)
    before it runs one, a tenth of a second spent on the 40 commands not asked for. The group keeps the
    name, the settings and the command, so usage lines, help and errors read as with the whole app;
    anything else (no command, an option first, an unknown name) gets the whole app and its messages.
    """
    if not argv or argv[0] not in _MODULE_OF:
        return load_commands()
    app = load_commands((argv[0],))
    commands = [info for info in app.registered_commands if _command_name(info) == argv[0]]
    groups = [info for info in app.registered_groups if info.name == argv[0]]  # `labels ...`, `suggestions ...`
    single = typer.Typer(**SETTINGS)
    single.registered_commands = commands
    single.registered_groups = groups
    # A callback keeps it a group: typer runs a lone command without a callback as the app itself.
    single.callback()(_group)
    return single


def _group() -> None:
    """Nothing to do before the command."""


def _command_name(info: typer.models.CommandInfo) -> str:
    return info.name or typer.main.get_command_name(info.callback.__name__)


def main() -> None:
    """Console-script entry point."""
    command_app(sys.argv[1:])()
