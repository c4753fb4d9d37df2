"""Real files with a field of the wrong JSON type: every loader reads past an optional field it can do
without, and names the place of one it needs; none fails with an unexplained Python error.

The cases below were found by mutating corpus files field by field (a list where a string was, an object
where a name was); the last test keeps doing that, with a fixed seed, on a few files of every format.
"""

from __future__ import annotations

import json
import random
import shutil
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from triage.ingest import validate_paths
from triage.ingest.walk import choose_loader


def _copy(corpus: Path, relative: str, tmp_path: Path) -> Path:
    target = tmp_path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(corpus / relative, target)
    return target


def _rewrite(path: Path, change) -> None:
    doc = orjson.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc))  # json: writes what orjson refuses (integers past 64 bits)


def _no_unexplained(summary) -> None:
    for error in summary.errors:
        assert not error["message"].startswith("unexpected"), error


def test_swe_agent_reads_past_mistyped_optional_fields(tmp_path, corpus):
    source = sorted((corpus / "swe-agent" / "trajs").glob("*.traj"))[0]
    path = _copy(corpus, str(source.relative_to(corpus)), tmp_path)

    def change(doc: dict[str, Any]) -> None:
        doc["history"][1]["is_demo"] = ["not", "a", "flag"]  # unhashable: was looked up in a set
        doc["info"]["model_stats"] = [1, 2]
        doc["replay_config"] = {"agent": "a string, not an object", "model": {"name": "claude"}}
        assistant = next(h for h in doc["history"] if h.get("role") == "assistant")
        assistant["tool_calls"] = {"not": "a list"}

    _rewrite(path, change)
    summary = validate_paths([path], workers=1)
    assert summary.errors == [] and summary.runs_added == 1


def test_mini_swe_agent_reads_past_mistyped_model_stats(tmp_path, corpus):
    source = sorted((corpus / "mini-swe-agent" / "trajs").glob("*/*.traj.json"))[0]
    path = _copy(corpus, str(source.relative_to(corpus)), tmp_path)
    _rewrite(path, lambda doc: doc["info"].update(model_stats=["cost", 1.5], config="not an object"))
    summary = validate_paths([path], workers=1)
    assert summary.errors == [] and summary.runs_added == 1


def test_openhands_names_the_event_whose_action_is_not_a_name(tmp_path, corpus):
    path = _copy(corpus, "openhands/output_gpt-4o-2024-05-13_hf.jsonl", tmp_path)
    lines = path.read_bytes().splitlines()
    record = orjson.loads(lines[0])
    record["history"][0][0]["action"] = {"kind": "message"}  # unhashable: was looked up in a set
    path.write_bytes(b"\n".join([orjson.dumps(record), *lines[1:]]))
    summary = validate_paths([path], workers=1)
    [error] = summary.errors
    assert error["place"] == "line 1, field 'history[0][0]'"
    assert "field 'action': expected the action's name (a string), got dict" in error["message"]
    assert summary.runs_added == 0  # the file is refused whole: a partly read file would mislead


def test_harbor_job_names_mistyped_statistics(tmp_path, corpus):
    job = next(p for p in sorted((corpus / "harbor").rglob("result.json")) if b'"stats"' in p.read_bytes())
    path = _copy(corpus, str(job.relative_to(corpus)), tmp_path)
    doc = orjson.loads(path.read_bytes())
    name = next(iter(doc["stats"]["evals"]))
    for field, value, expected in (
        ("exception_stats", "a string", "exception -> trial names"),
        ("reward_stats", {"reward": [1.0]}, "reward -> trial names"),
    ):
        changed = json.loads(json.dumps(doc))
        changed["stats"]["evals"][name][field] = value
        path.write_text(json.dumps(changed))
        [error] = validate_paths([path], workers=1).errors
        assert error["place"] == f"stats.evals.{name}.{field}"
        assert expected in error["message"]


# -- mutation: a few files of every format, a field at a time ------------------------------------------

_ODD = [None, 0, -1, 1.5e308, "x", "", [], {}, True, 2**70, [[[]]], {"a": {"b": None}}, [1, "a", None]]


def _places(value: Any, path: tuple = (), depth: int = 4):
    if path:
        yield path
    if len(path) >= depth:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key), depth)
    elif isinstance(value, list):
        for index, item in enumerate(value[:20]):
            yield from _places(item, (*path, index), depth)


def _mutate(doc: Any, rng: random.Random) -> Any:
    places = list(_places(doc))
    for _ in range(rng.randint(1, 3)):
        if not places:
            return rng.choice(_ODD)
        *parents, last = rng.choice(places)
        holder = doc
        try:
            for key in parents:
                holder = holder[key]
            if isinstance(holder, dict) and rng.random() < 0.25:
                holder.pop(last, None)
            else:
                holder[last] = rng.choice(_ODD)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced a parent
    return doc


def _mutate_file(path: Path, rng: random.Random) -> None:
    if path.suffix == ".eval":
        with zipfile.ZipFile(path) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        name = rng.choice(sorted(n for n in members if n.endswith(".json")))
        members[name] = json.dumps(_mutate(orjson.loads(members[name]), rng)).encode()
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for member, data in members.items():
                archive.writestr(member, data)
    elif path.suffix == ".jsonl":
        lines = path.read_bytes().splitlines()
        index = rng.randrange(len(lines))
        lines[index] = json.dumps(_mutate(orjson.loads(lines[index]), rng)).encode()
        path.write_bytes(b"\n".join(lines))
    else:
        path.write_text(json.dumps(_mutate(orjson.loads(path.read_bytes()), rng)))


@pytest.mark.parametrize("seed", [0, 1])
def test_mutated_fields_never_give_an_unexplained_error(tmp_path, corpus, seed):
    candidates = [p for p in sorted(corpus.rglob("*")) if p.suffix in (".json", ".jsonl", ".eval", ".traj")]
    by_loader: dict[str, list[Path]] = {}
    for path in candidates:
        loader, _ = choose_loader(path, None, True)
        if loader is not None and path.stat().st_size < 2_000_000:
            by_loader.setdefault(loader.name, []).append(path)
    assert len(by_loader) >= 8, sorted(by_loader)  # every format the corpus holds, not a few
    rng = random.Random(seed)
    for loader, paths in sorted(by_loader.items()):
        for source in rng.sample(paths, min(3, len(paths))):
            path = _copy(corpus, str(source.relative_to(corpus)), tmp_path / loader)
            for _ in range(4):
                shutil.copy(source, path)
                _mutate_file(path, rng)
                summary = validate_paths([path], workers=1, fmt=loader)
                assert summary.files == 1
                for error in summary.errors:
                    assert not error["message"].startswith("unexpected"), (loader, source.name, error)
