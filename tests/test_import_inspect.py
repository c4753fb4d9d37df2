"""Importing Inspect AI logs: the shared corpus and fresh logs written by ``inspect_ai`` itself."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import inspect_logs
import orjson
import pytest

from triage.importers import LoadError, LoadOptions, inspect_log, inspect_zip, read_head, sniff
from triage.importers.inspect_log import LOADER
from triage.importers.inspect_sample import error_type, score_value
from triage.ingest import decode_messages, import_paths, load_transcript, validate_paths
from triage.models import Run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def load_runs(path: Path, **options) -> list[Run]:
    return [item for item in LOADER.load(path, LoadOptions(**options)) if isinstance(item, Run)]


def log_status(path: Path) -> str | None:
    return next(item for item in LOADER.load(path, LoadOptions()) if not isinstance(item, Run)).log_status


def raw_samples(path: Path) -> list[dict]:
    """The samples of a log, read directly (zip members with zipfile, or the JSON's ``samples``)."""
    if path.suffix == ".eval":
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.startswith("samples/") and "_epoch_" in n and n.endswith(".json")]
            return [orjson.loads(zf.read(n)) for n in names]
    return orjson.loads(path.read_bytes()).get("samples") or []


def expected_success(value) -> bool | None:
    if value in ("C", "I", "P", "N"):
        return value == "C"
    if isinstance(value, (int, float)):
        return value >= 1.0
    return None


# --------------------------------------------------------------------------------------------- corpus


@pytest.fixture(scope="module")
def inspect_corpus(corpus: Path) -> Path:
    folder = corpus / "inspect"
    if not folder.is_dir():
        pytest.skip(f"no Inspect logs in {folder}")
    return folder


@pytest.fixture(scope="module")
def imported_corpus(inspect_corpus: Path, tmp_path_factory):
    from triage.db import open_db

    db = open_db(tmp_path_factory.mktemp("corpus") / "triage.db")
    summary = import_paths(db, [inspect_corpus])
    yield db, summary
    db.conn.close()


def test_every_corpus_log_imports_and_counts_match_the_logs(inspect_corpus: Path, imported_corpus) -> None:
    db, summary = imported_corpus
    assert summary.errors == []
    files = sorted(p for p in inspect_corpus.iterdir() if p.suffix in (".eval", ".json"))
    assert summary.files == len(files) and not summary.ignored
    by_path = {Path(r.path): r for r in summary.results}
    total = 0
    for path in files:
        result = by_path[path.resolve()]
        expected = len(raw_samples(path))
        total += expected
        # Copies of one log (same eval id) are counted once: skipped, never duplicated.
        assert result.runs_added + result.runs_skipped == expected, path.name
    stored = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    assert stored == summary.runs_added and stored + summary.runs_skipped == total
    # Every stored run points at its file, and each source's n_runs is what it holds.
    for source_id, n_runs in db.execute("SELECT id, n_runs FROM sources"):
        assert db.execute("SELECT count(*) FROM runs WHERE source_id = ?", [source_id]).fetchone()[0] == n_runs


def test_corpus_transcripts_match_the_samples(inspect_corpus: Path) -> None:
    for path in sorted(inspect_corpus.iterdir()):
        samples = {(str(s["id"]), s["epoch"]): s for s in raw_samples(path)}
        runs = load_runs(path)
        assert len(runs) == len(samples)
        for run in runs:
            sample = samples[(run.sample_id, run.epoch)]
            assert [m.role for m in run.messages] == [m["role"] for m in sample["messages"]], run.id
            calls = [
                (c["id"], c["function"], c["arguments"]) for m in sample["messages"] for c in m.get("tool_calls") or []
            ]
            assert [(c.id, c.function, c.arguments) for m in run.messages for c in m.tool_calls] == calls
            assert sum(1 for m in run.messages if m.error) == sum(1 for m in sample["messages"] if m.get("error"))
            scores = sample.get("scores") or {}
            if scores:
                first = next(iter(scores.values()))["value"]
                assert run.success == expected_success(first), run.id
                assert run.score_raw and list(run.score_raw) == list(scores)
            else:
                assert run.success is None and run.score is None
            assert run.status == ("success" if run.success else "failed")  # the corpus has no errors or limits
            assert run.task_id == f"{run.id.split('@')[0]}/{sample['id']}"


def test_tool_call_errors_are_kept(inspect_corpus: Path, imported_corpus) -> None:
    db, _ = imported_corpus
    path = inspect_corpus / "log__test_eval_log__log_tool_call_error.json"
    sample = raw_samples(path)[0]
    expected = [f"{m['error']['type']}: {m['error']['message']}" for m in sample["messages"] if m.get("error")]
    assert expected, "the fixture has tool errors"
    run_id = db.execute(
        "SELECT r.id FROM runs r JOIN sources s ON s.id = r.source_id WHERE s.path = ?", [str(path.resolve())]
    ).fetchone()[0]
    messages = load_transcript(db, run_id)
    assert [m.error for m in messages if m.error] == expected
    assert all(m.tool_call_id and m.function for m in messages if m.role == "tool")


def test_images_and_reasoning_are_flattened_to_text(inspect_corpus: Path) -> None:
    images = load_runs(inspect_corpus / "log__test_eval_log__log_images.json")[0]
    user = next(m for m in images.messages if m.role == "user")
    assert "[image]" in user.content and "What is this a picture of?" in user.content
    assert "attachment://" not in user.content and "base64" not in user.content
    reasoning = load_runs(next(inspect_corpus.glob("*class-eval*.eval")))[0]
    assistant = next(m for m in reasoning.messages if m.role == "assistant")
    assert assistant.content.startswith("[reasoning summary]") and "class AreaCalculator" in assistant.content


def test_logs_without_samples_and_cancelled_logs(inspect_corpus: Path, imported_corpus) -> None:
    db, summary = imported_corpus
    rows = {Path(p).name: (status, n_runs, log) for p, status, n_runs, log in
            db.execute("SELECT path, status, n_runs, log_status FROM sources")}  # fmt: skip
    assert rows["analysis__test_logs__2025-05-12T20-28-13-04-00_no-samples.json"] == ("ok", 0, "cancelled")
    assert rows["analysis__test_logs__2025-05-12T20-28-13-04-00_popularity.json"][2] == "cancelled"
    errored = [name for name, row in rows.items() if row[2] == "error"]
    assert errored and all(rows[name][:2] == ("ok", 0) for name in errored)


def test_unscored_samples_have_unknown_success(inspect_corpus: Path) -> None:
    path = next(inspect_corpus.glob("scorer__logs__2025-02-11T15-17-00*.eval"))
    assert all(not s.get("scores") for s in raw_samples(path))
    runs = load_runs(path)
    assert runs and all(r.success is None and r.score is None and r.status == "failed" for r in runs)


def test_agent_option_overrides_the_model_name(inspect_corpus: Path) -> None:
    path = next(inspect_corpus.glob("small.eval"))
    assert {r.agent for r in load_runs(path)} == {"anthropic/claude-opus-4-1-20250805"}
    assert {r.agent for r in load_runs(path, agent="my-agent")} == {"my-agent"}


def test_sniffing(inspect_corpus: Path, corpus: Path) -> None:
    for path in inspect_corpus.iterdir():
        assert LOADER.sniff(path, read_head(path)), path.name
        assert sniff(path).name == "inspect"
    others = [
        p for p in corpus.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl") and "inspect" not in p.parts
    ]
    assert others
    assert not [p for p in others if LOADER.sniff(p, read_head(p))]


# ----------------------------------------------------------------------------- logs Inspect writes now


@pytest.fixture(scope="session")
def fresh(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("inspect_ai")
    return inspect_logs.generate(tmp_path_factory.getbasetemp() / "inspect-logs")


@pytest.fixture(scope="session")
def inspect_samples(fresh):
    from inspect_ai.log import read_eval_log

    return {fmt: read_eval_log(str(fresh[fmt])) for fmt in ("eval", "json")}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["eval", "json"])
def test_fresh_log_matches_what_inspect_wrote(fresh, inspect_samples, fmt: str) -> None:
    log = inspect_samples[fmt]
    runs = {(r.sample_id, r.epoch): r for r in load_runs(fresh[fmt])}
    assert len(runs) == len(log.samples) == len(inspect_logs.SAMPLE_IDS) * inspect_logs.EPOCHS
    assert log_status(fresh[fmt]) == log.status == "success"
    for sample in log.samples:
        run = runs[(str(sample.id), sample.epoch)]
        assert run.id == f"{log.eval.task}@{log.eval.eval_id}/{sample.id}/{sample.epoch}"
        assert run.task_id == f"{log.eval.task}/{sample.id}" and run.task.family == log.eval.task
        assert run.model == run.agent == log.eval.model
        assert [m.role for m in run.messages] == [m.role for m in sample.messages]
        assert [m.content for m in run.messages] == [m.text for m in sample.messages]
        expected_calls = [
            (c.id, c.function, c.arguments) for m in sample.messages for c in (getattr(m, "tool_calls", None) or [])
        ]
        assert [(c.id, c.function, c.arguments) for m in run.messages for c in m.tool_calls] == expected_calls
        expected_errors = [f"{m.error.type}: {m.error.message}" for m in sample.messages if getattr(m, "error", None)]
        assert [m.error for m in run.messages if m.error] == expected_errors
        if sample.model_usage:
            assert run.input_tokens == sum(u.input_tokens for u in sample.model_usage.values())
            assert run.total_tokens == sum(u.total_tokens for u in sample.model_usage.values())
        else:  # nothing recorded (the solver raised before any generation): unknown, not zero
            assert run.input_tokens is None and run.total_tokens is None
        assert run.total_seconds == sample.total_time and run.working_seconds == sample.working_time
        assert run.started_at == sample.started_at and run.completed_at == sample.completed_at
        assert run.target == sample.target
        if sample.scores:
            score = next(iter(sample.scores.values()))
            assert run.score_raw["includes"]["value"] == score.value
            assert run.success == (score.value == "C")
        else:
            assert run.score is None and run.success is None
        if sample.error:
            assert run.status == "error" and run.error_type == "RuntimeError"
            assert run.error.startswith(sample.error.message)
        elif sample.limit:
            assert run.status == "limit" and (run.limit_type, run.limit_value) == (
                sample.limit.type,
                sample.limit.limit,
            )
        else:
            assert run.status == ("success" if run.success else "failed")
    # The cases the task was built to produce are all there.
    by_id = {}
    for run in runs.values():
        by_id.setdefault(run.sample_id, set()).add(run.status)
    assert by_id == {"add": {"success"}, "fruit": {"failed"}, "group/explode": {"error"}, "loop": {"limit"}}
    fruit = runs[("fruit", 1)]
    assert any(m.error == "unknown: cannot evaluate 'boom'" for m in fruit.messages)
    assert runs[("loop", 2)].limit_value == inspect_logs.MESSAGE_LIMIT


@pytest.mark.slow
def test_eval_and_json_formats_give_the_same_runs(fresh) -> None:
    def comparable(run: Run) -> dict:
        data = run.model_dump(
            exclude={"id", "metadata", "started_at", "completed_at", "total_seconds", "working_seconds"}
        )
        for message in data["messages"]:
            message["tool_calls"] = [{**c, "id": None} for c in message["tool_calls"]]
        return data

    by_key = lambda runs: {(r.sample_id, r.epoch): comparable(r) for r in runs}  # noqa: E731
    assert by_key(load_runs(fresh["eval"])) == by_key(load_runs(fresh["json"]))


@pytest.mark.slow
def test_streamed_json_gives_the_same_runs(fresh, monkeypatch) -> None:
    whole = load_runs(fresh["json"])
    monkeypatch.setattr(inspect_log, "JSON_STREAM_BYTES", 0)
    assert load_runs(fresh["json"]) == whole


def test_samples_are_read_without_their_events(fresh, inspect_corpus: Path, monkeypatch) -> None:
    """The events array (never used) is cut out before parsing; the runs are those of a full parse."""
    logs = [fresh["eval"], *sorted(inspect_corpus.rglob("*.eval"))]
    cut = 0
    for log in logs:
        with zipfile.ZipFile(log) as zf:
            for name in zf.namelist():
                if name.startswith("samples/") and name.endswith(".json"):
                    data = zf.read(name)
                    fast = inspect_zip.without_events(data)
                    if fast is not None:
                        cut += 1
                        assert fast == {**orjson.loads(data), "events": []}, f"{log}: {name}"
    assert cut >= 20  # Inspect's own layout: the cut applies to real logs
    fast_runs = [load_runs(log) for log in logs]
    monkeypatch.setattr(inspect_zip, "without_events", lambda data: None)
    assert [load_runs(log) for log in logs] == fast_runs


def test_events_cut_only_at_the_top_level() -> None:
    """Keys named events and model_usage inside other fields never fool the cut; odd layouts parse whole."""
    nested = {"id": 1, "metadata": {"k": 1, "events": [3]}, "store": {"x": [1], "model_usage": 5},
              "events": [{"e": [1, 2]}], "model_usage": {"m": 1}, "attachments": {"h": "t"}}  # fmt: skip
    assert inspect_zip.without_events(orjson.dumps(nested)) == {**nested, "events": []}
    indented = orjson.dumps(nested, option=orjson.OPT_INDENT_2)
    assert inspect_zip.without_events(indented) == {**nested, "events": []}
    not_last = {"id": 1, "model_usage": {}, "events": [1]}
    assert inspect_zip.without_events(orjson.dumps(not_last)) is None
    no_usage_after = {"id": 1, "events": [1], "x": {"y": [1], "model_usage": 1}}
    assert inspect_zip.without_events(orjson.dumps(no_usage_after)) is None


@pytest.mark.slow
def test_crashed_log_is_read_from_its_journal(fresh) -> None:
    path = fresh["crashed"]
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "header.json" not in names and "_journal/start.json" in names
    runs = load_runs(path)
    assert len(runs) == inspect_logs.CRASH_COMPLETED == len(raw_samples_names(names))
    assert log_status(path) == "started"
    assert all(r.status == "success" and r.model == "mockllm/model" and r.id.startswith("crashy@") for r in runs)


def raw_samples_names(names: list[str]) -> list[str]:
    return [n for n in names if n.startswith("samples/")]


@pytest.mark.slow
def test_chunked_samples_give_the_same_runs(fresh, tmp_path) -> None:
    chunked = pytest.importorskip("inspect_ai.log._recorders.chunked")
    chunked.convert_eval_logs_to_chunked(str(fresh["eval"]), str(tmp_path), chunk_size=2)
    converted = next(tmp_path.glob("*.eval"))
    with zipfile.ZipFile(converted) as zf:
        assert any(n.endswith("/sample.json") for n in zf.namelist())
    strip = lambda runs: {r.id: r.model_dump(exclude={"metadata"}) for r in runs}  # noqa: E731
    assert strip(load_runs(converted)) == strip(load_runs(fresh["eval"]))


@pytest.mark.slow
def test_import_stores_what_the_loader_read(fresh, db) -> None:
    summary = import_paths(db, [fresh["eval"], fresh["json"], fresh["crashed"]])
    assert summary.errors == [] and summary.runs_added == 2 * 8 + inspect_logs.CRASH_COMPLETED
    loaded = {r.id: r for r in load_runs(fresh["eval"])}
    for run_id, run in loaded.items():
        row = db.execute(
            "SELECT status, error_type, limit_type, limit_value, score, success, n_messages FROM runs WHERE id = ?",
            [run_id],
        ).fetchone()
        expected_success = None if run.success is None else int(run.success)
        assert row == (
            run.status,
            run.error_type,
            run.limit_type,
            run.limit_value,
            run.score,
            expected_success,
            len(run.messages),
        )
        assert load_transcript(db, run_id) == run.messages
    blob = db.execute("SELECT messages FROM transcripts LIMIT 1").fetchone()[0]
    assert decode_messages(blob)


# ----------------------------------------------------------------------------------------- bad input


def rewrite_eval(source: Path, target: Path, change) -> None:
    """Copy an .eval, passing each member's parsed JSON through ``change(name, data)`` (None drops it)."""
    from triage.importers.inspect_zip import EvalZip

    with EvalZip(source) as archive, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for name in archive.members:
            data = change(name, archive.read_json(name))
            if data is not None:
                out.writestr(name, orjson.dumps(data))


@pytest.mark.slow
def test_sample_missing_a_field_names_member_and_field(fresh, tmp_path) -> None:
    bad = tmp_path / "bad.eval"

    def drop_messages(name: str, data):
        if name == "samples/fruit_epoch_2.json":
            del data["messages"]
        return data

    rewrite_eval(fresh["eval"], bad, drop_messages)
    with pytest.raises(LoadError) as caught:
        load_runs(bad)
    assert caught.value.path == str(bad)
    assert caught.value.place == "samples/fruit_epoch_2.json: field 'messages'"
    assert "expected a list of chat messages" in caught.value.message

    json_log = orjson.loads(fresh["json"].read_bytes())
    json_log["samples"][3]["epoch"] = "two"
    broken = tmp_path / "bad.json"
    broken.write_bytes(orjson.dumps(json_log))
    with pytest.raises(LoadError) as caught:
        load_runs(broken)
    assert caught.value.place == "samples[3]: field 'epoch'" and "found str" in caught.value.message


@pytest.mark.slow
def test_log_without_header_or_journal_is_an_error(fresh, tmp_path) -> None:
    bad = tmp_path / "headless.eval"
    rewrite_eval(
        fresh["eval"], bad, lambda name, data: None if name in ("header.json", "_journal/start.json") else data
    )
    with pytest.raises(LoadError, match="neither header.json nor _journal/start.json"):
        load_runs(bad)


@pytest.mark.slow
def test_broken_files_give_precise_errors(fresh, tmp_path) -> None:
    good = fresh["eval"].read_bytes()
    (tmp_path / "truncated.eval").write_bytes(good[: len(good) // 2])
    (tmp_path / "garbage.eval").write_bytes(b"this is not a zip file" * 20)
    with zipfile.ZipFile(fresh["eval"]) as zf:
        info = zf.getinfo("samples/add_epoch_2.json")
    corrupt = bytearray(good)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    corrupt[start + 8 : start + 24] = b"\xff" * 16
    (tmp_path / "corrupt-member.eval").write_bytes(bytes(corrupt))
    text = fresh["json"].read_bytes()
    cut = len(text) * 3 // 4
    while text[cut - 1] >= 0x80:  # cut between characters: a split UTF-8 sequence is another error
        cut -= 1
    (tmp_path / "truncated.json").write_bytes(text[:cut])

    summary = validate_paths([tmp_path])
    errors = {Path(e["path"]).name: e for e in summary.errors}
    assert set(errors) == {"truncated.eval", "garbage.eval", "corrupt-member.eval", "truncated.json"}
    assert "not a readable zip archive" in errors["truncated.eval"]["message"]
    assert "not a readable zip archive" in errors["garbage.eval"]["message"]
    assert errors["corrupt-member.eval"]["place"] == "samples/add_epoch_2.json"
    assert errors["truncated.json"]["place"].startswith("samples[")
    assert (
        "line" in errors["truncated.json"]["place"] and "unexpected end of data" in errors["truncated.json"]["message"]
    )


def test_truncated_json_streamed_names_the_sample(tmp_path, monkeypatch, inspect_corpus: Path) -> None:
    source = inspect_corpus / "analysis__test_logs__2025-05-12T20-28-26-04-00_security-guide.json"
    data = source.read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(data[: int(len(data) * 0.9)])
    monkeypatch.setattr(inspect_log, "JSON_STREAM_BYTES", 0)
    with pytest.raises(LoadError) as caught:
        load_runs(cut)
    assert caught.value.place.startswith("samples[") and "near byte" in caught.value.place


def test_copy_of_a_log_imports_nothing_twice(inspect_corpus: Path, tmp_path, db) -> None:
    source = inspect_corpus / "log__test_eval_log__log_streaming.eval"
    shutil.copy(source, tmp_path / "copy.eval")
    first = import_paths(db, [source])
    second = import_paths(db, [tmp_path / "copy.eval"])
    n = len(raw_samples(source))
    assert (first.runs_added, second.runs_added, second.runs_skipped) == (n, 0, n)
    assert db.execute("SELECT count(*) FROM runs").fetchone()[0] == n


# ------------------------------------------------------------------------------------------- pieces


@pytest.mark.parametrize(
    ("value", "expected"),
    [("C", 1.0), ("I", 0.0), ("P", 0.5), ("N", 0.0), (1, 1.0), (0.25, 0.25), (True, 1.0), ("yes", 1.0),
     ("0.7", 0.7), ({"a": "C", "b": "I"}, 0.5), ([1, 0, 1, 0], 0.5), ("unparseable", None), (None, None)],
)  # fmt: skip
def test_score_values(value, expected) -> None:
    assert score_value(value) == expected


def test_error_type_from_traceback_or_message() -> None:
    traceback = (
        "  + Exception Group Traceback (most recent call last):\n"
        '  |   File "x.py", line 1, in run\n'
        "  | ValueError: inner\n"
        "Traceback (most recent call last):\n"
        '  File "/app/solver.py", line 26, in solve\n'
        '    raise RuntimeError(f"exploded")\n'
        "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='x', port=443)\n"
    )
    assert error_type("ConnectionError(MaxRetryError(...))", traceback) == "requests.exceptions.ConnectionError"
    assert error_type("RuntimeError('solver exploded')", "") == "RuntimeError"
    assert error_type("TimeoutError: took too long", None) == "TimeoutError"
    assert error_type("something went wrong", None) is None


def test_deflate_and_zstd_members_read_alike_and_corruption_is_caught(fresh, tmp_path) -> None:
    """Members are decompressed in one call (deflate, older Inspect; zstd, current): same runs from either,
    and a damaged deflate member or a wrong CRC is an error naming the member, never wrong data."""
    deflated = tmp_path / "deflated.eval"
    rewrite_eval(fresh["eval"], deflated, lambda name, data: data)
    with zipfile.ZipFile(deflated) as zf:
        assert {info.compress_type for info in zf.infolist()} == {zipfile.ZIP_DEFLATED}
        info = zf.getinfo("samples/add_epoch_2.json")
    as_zstd = [run.model_dump() for run in load_runs(fresh["eval"])]
    as_deflate = [run.model_dump() for run in load_runs(deflated)]
    for run in (*as_zstd, *as_deflate):
        run["metadata"].pop("log")
    assert as_deflate == as_zstd

    good = deflated.read_bytes()
    damaged = bytearray(good)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged[start : start + info.compress_size] = bytes(b ^ 0x5A for b in damaged[start : start + info.compress_size])
    (tmp_path / "damaged.eval").write_bytes(bytes(damaged))
    wrong_crc = bytearray(good)
    central = next(  # the central directory entry of that member: its CRC is 16 bytes in
        i for i in _all(good, b"PK\x01\x02") if good[i + 46 : i + 46 + len(info.filename)] == info.filename.encode()
    )
    wrong_crc[central + 16 : central + 20] = (info.CRC ^ 1).to_bytes(4, "little")
    (tmp_path / "wrong-crc.eval").write_bytes(bytes(wrong_crc))
    for name, reason in (("damaged.eval", "cannot decompress member|CRC/size check"), ("wrong-crc.eval", "CRC/size")):
        with pytest.raises(LoadError, match=reason) as caught:
            load_runs(tmp_path / name)
        assert "samples/add_epoch_2.json" in str(caught.value)


def _all(data: bytes, needle: bytes) -> list[int]:
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found
