"""The format loaders' entry-point group: the built-in loaders' table, and a check of plug-ins that imports no
built-in loader (`triage info`). :mod:`triage.importers` loads them all."""

from __future__ import annotations

import importlib.util
from importlib.machinery import PathFinder
from importlib.metadata import entry_points

GROUP = "triage.loaders"

# The built-in loaders, as pyproject.toml declares their entry points (used when running from a source tree).
BUILTIN = {
    "inspect": "triage.importers.inspect_log:LOADER",
    "metr": "triage.importers.metr:LOADER",
    "tasks": "triage.importers.tasks_meta:LOADER",
    "swe-agent": "triage.importers.swe_agent:LOADER",
    "mini-swe-agent": "triage.importers.mini_swe_agent:LOADER",
    "openai-chat": "triage.importers.openai_chat:LOADER",
    "atif": "triage.importers.atif:LOADER",
    "terminal-bench": "triage.importers.terminal_bench:LOADER",
    "harbor": "triage.importers.harbor:LOADER",
    "tau-bench": "triage.importers.tau_bench:LOADER",
    "tau2-bench": "triage.importers.tau2_bench:LOADER",
    "openhands": "triage.importers.openhands:LOADER",
    "scout": "triage.importers.scout:LOADER",
}


def broken_plugins() -> dict[str, str]:
    """Loaders that fail to load, as :func:`triage.importers.broken_loaders` names them, without importing the
    built-in ones.

    A plug-in (any other entry point) is loaded, since its own import is what breaks; a built-in loader's
    module is only looked up, as importing all of them would cost more than the rest of `triage info`.
    `import` and `validate` load every loader and report any built-in one that fails.
    """
    broken: dict[str, str] = {}
    seen: set[str] = set()
    builtin = set(BUILTIN.values())
    for ep in entry_points(group=GROUP):
        seen.add(ep.name)
        if ep.value in builtin:
            _check_module(ep.name, ep.value, broken)
            continue
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001 - any failure of a plug-in's import is reported, never fatal
            broken[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"
    for name, ref in BUILTIN.items():
        if name not in seen:  # running from a source tree: no entry points
            _check_module(name, ref, broken)
    return broken


def _check_module(name: str, ref: str, broken: dict[str, str]) -> None:
    module = ref.partition(":")[0]
    if not _findable(module):
        broken[name] = f"{ref}: ModuleNotFoundError: No module named {module!r}"


def _findable(module: str) -> bool:
    """Whether ``module`` can be found, looked up part by part: ``find_spec`` would run its packages' code."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    for part in rest:
        if spec is None or spec.submodule_search_locations is None:
            return False
        spec = PathFinder.find_spec(part, list(spec.submodule_search_locations))
    return spec is not None
