"""Write the team's effective labels back into their Inspect logs, through ``inspect_ai``'s own API.

Needs the optional ``inspect_ai`` dependency (``pip install 'triage[inspect]'``); the rest of triage reads
Inspect logs without it. Per imported log with labelled samples:

- every labelled sample gets ``metadata["triage"]`` (category, effect, reviewer, cluster, label id);
- effect ``invalid`` -> ``invalidate_samples`` with ``ProvenanceData(author=reviewer, reason="<category>: <note>")``
  (``inspect eval-set`` retries exactly those samples);
- effects ``scoring_error`` / ``cheat`` -> ``edit_score`` with the same provenance, the value set to a
  success / a failure in the scorer's own terms (C/I, yes/no, numbers at the task's threshold); the
  log's metrics are recomputed.

The output is a new file beside the original (``<name>.triage.eval``) unless ``in_place``, which first
copies the original into a hidden ``.triage-backup/`` folder beside it and, on later runs, starts again
from that copy, so re-running writeback gives the same log for the same labels (idempotent) and an undone
label disappears from it. A log whose bytes differ from what was imported (and from triage's own last
in-place write) is refused: the labels may no longer match its samples.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from triage.db import now, write_transaction
from triage.db.sqlite import Database
from triage.files import atomic_write
from triage.ingest import file_hash
from triage.loop.common import LabelledRun, labelled_runs

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog, ProvenanceData

# inspect_ai is imported inside the functions that use it: it is an optional extra, and it imports
# Textual, which the headless core must not load just by being imported.

BACKUP_DIR = ".triage-backup"
OUT_INFIX = ".triage"
PROVENANCE_KEY = "triage_label"  # ProvenanceData.metadata key holding the label's uid (idempotence)
SCORE_EFFECTS = {"scoring_error": True, "cheat": False}  # effect -> the corrected outcome is a success


class WritebackError(ValueError):
    """A log that cannot be written back (changed since import, unreadable, not an Inspect log)."""


@dataclass
class WritebackResult:
    """What happened to one log."""

    source: str
    status: str = "ok"  # ok | refused | error
    out_path: str | None = None
    backup_path: str | None = None
    n_annotated: int = 0
    n_invalidated: int = 0
    n_edited: int = 0
    problems: list[str] = field(default_factory=list)  # samples that could not be written, with why
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def out_path_for(path: Path, *, in_place: bool, out_dir: Path | None = None) -> Path:
    """Where the written-back log goes: the original (in place), ``out_dir/<name>``, or beside it."""
    if in_place:
        return path
    if out_dir is not None:
        return out_dir / path.name
    return path.with_name(f"{path.stem}{OUT_INFIX}{path.suffix}")


def backup_path_for(path: Path) -> Path:
    return path.parent / BACKUP_DIR / path.name


def _our_hashes(db: Database, source_id: int) -> set[str]:
    rows = db.execute("SELECT content_hash FROM writebacks WHERE source_id = ? AND in_place = 1", [source_id])
    return {r[0] for r in rows}


def _input_for(db: Database, source_id: int, path: Path, recorded: str | None) -> Path:
    """The file to start from: the original if unchanged since import (or the untouched backup of an
    in-place writeback); raises :class:`WritebackError` when the log changed since import."""
    if not path.exists():
        raise WritebackError(f"{path}: file not found (it was imported from here; was it moved?)")
    backup = backup_path_for(path)
    if backup.exists() and file_hash(backup) == recorded:
        current = file_hash(path)
        if current == recorded or current in _our_hashes(db, source_id):
            return backup
        raise WritebackError(
            f"{path}: changed since triage last wrote it (sha256 {current[:12]}); "
            f"the original is in {backup}; re-import the log to write back into this version"
        )
    current = file_hash(path)
    if current != recorded:
        raise WritebackError(
            f"{path}: changed since import (sha256 {current[:12]}, imported {str(recorded)[:12]}); "
            "re-import it (`triage import`) so labels are checked against this version first"
        )
    return path


def corrected_value(value: Any, success: bool, threshold: float | None) -> Any:
    """``value`` turned into a success or a failure in the scorer's own terms; ValueError if it has none."""
    if isinstance(value, bool):
        return success
    if isinstance(value, (int, float)):
        passing = max(1.0, threshold) if threshold is not None else 1.0
        return passing if success else 0.0
    if isinstance(value, str):
        word = value.strip()
        if word.upper() in ("C", "I", "P", "N"):
            return "C" if success else "I"
        pairs = {"yes": "no", "true": "false", "correct": "incorrect"}
        for good, bad in pairs.items():
            if word.lower() in (good, bad):
                return good if success else bad
    raise ValueError(f"score value {value!r} has no success/failure form triage can write (edit it in Inspect)")


def _provenance(label: LabelledRun) -> ProvenanceData:
    from inspect_ai.log import ProvenanceData

    note = (label.rationale or "").strip()
    try:
        stamp = _dt.datetime.fromisoformat(label.created_at)
    except (TypeError, ValueError):
        stamp = _dt.datetime.now(_dt.UTC)
    return ProvenanceData(
        timestamp=stamp,  # the label's time, not the clock's: the same labels write the same log
        author=label.reviewer,
        reason=f"{label.category}: {note}" if note else label.category,
        metadata={PROVENANCE_KEY: label.label_uid, "effect": label.effect},
    )


def _triage_metadata(label: LabelledRun) -> dict[str, Any]:
    return {
        "category": label.category,
        "effect": label.effect,
        "reviewer": label.reviewer,
        "cluster": label.cluster_id,
        "label_id": label.label_uid,
        "label_source": label.label_source,
        "note": label.rationale,
        "run_id": label.run_id,
    }


def _edited_by(score: Any, uid: str) -> bool:
    return any(
        edit.provenance is not None and edit.provenance.metadata.get(PROVENANCE_KEY) == uid
        for edit in (score.history or [])
    )


def apply_labels(log: EvalLog, labels: list[LabelledRun], result: WritebackResult,
                 scorers: dict[str, str | None], thresholds: dict[str, float | None]) -> EvalLog:  # fmt: skip
    """Apply ``labels`` to ``log`` (annotate, edit scores, invalidate); returns the new log."""
    from inspect_ai.log import edit_score, invalidate_samples, recompute_metrics
    from inspect_ai.scorer import ScoreEdit

    samples = {(str(s.id), s.epoch): s for s in log.samples or []}
    invalid: list[tuple[str, ProvenanceData]] = []
    edited = False
    for label in labels:
        sample = samples.get((str(label.sample_id), label.epoch))
        if sample is None:
            result.problems.append(f"run {label.run_id}: sample {label.sample_id!r} epoch {label.epoch} not in the log")
            continue
        sample.metadata = {**(sample.metadata or {}), "triage": _triage_metadata(label)}
        result.n_annotated += 1
        if label.effect == "invalid":
            if sample.uuid is None:
                result.problems.append(f"run {label.run_id}: the sample has no uuid, so Inspect cannot invalidate it")
            elif sample.invalidation is None:
                invalid.append((sample.uuid, _provenance(label)))
            continue
        if label.effect not in SCORE_EFFECTS:
            continue
        name = scorers.get(label.run_id)
        if not sample.scores or (name not in sample.scores):
            name = next(iter(sample.scores or {}), None)
        if name is None:
            result.problems.append(f"run {label.run_id}: the sample has no score to correct")
            continue
        score = sample.scores[name]
        if _edited_by(score, label.label_uid):
            continue  # written back before (in place): once is enough
        try:
            value = corrected_value(score.value, SCORE_EFFECTS[label.effect], thresholds.get(label.run_id))
        except ValueError as exc:
            result.problems.append(f"run {label.run_id}: scorer {name!r}: {exc}")
            continue
        if value == score.value:
            continue  # already what the label says (a mismatched label): no edit to record
        edit = ScoreEdit(value=value, provenance=_provenance(label))
        edit_score(log, sample.id, name, edit, recompute_metrics=False, epoch=sample.epoch)
        result.n_edited += 1
        edited = True
    if edited:
        recompute_metrics(log)
    for uuid, provenance in invalid:
        log = invalidate_samples(log, [uuid], provenance)
        result.n_invalidated += 1
    return log


def _write(log: EvalLog, target: Path) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    from inspect_ai.log import write_eval_log

    fmt = "eval" if target.suffix == ".eval" else "json"
    atomic_write(target, lambda tmp: write_eval_log(log, str(tmp), format=fmt))


def writeback_source(db: Database, source_id: int, labels: list[LabelledRun], *,
                     in_place: bool = False, out_dir: Path | None = None) -> WritebackResult:  # fmt: skip
    """Write one imported log's labels back (see the module docstring)."""
    from inspect_ai.log import read_eval_log

    # The file's own hash (content_hash also covers import options such as --agent); NULL before migration 7.
    row = db.execute(
        "SELECT path, coalesce(file_hash, content_hash), format, status FROM sources WHERE id = ?", [source_id]
    ).fetchone()
    path = Path(row[0])
    result = WritebackResult(str(path))
    if row[2] != "inspect":
        result.status, result.error = "error", f"{path}: a {row[2]} source, not an Inspect log"
        return result
    try:
        start = _input_for(db, source_id, path, row[1])
    except WritebackError as exc:
        result.status, result.error = "refused", str(exc)
        return result
    meta = dict(
        db.execute(
            f"SELECT r.id, r.metadata FROM runs r WHERE r.id IN ({', '.join('?' for _ in labels)})",
            [lab.run_id for lab in labels],
        ).fetchall()
    )
    scorers = {rid: (orjson.loads(m) if m else {}).get("scorer") for rid, m in meta.items()}
    thresholds = dict(
        db.execute(
            "SELECT r.id, t.threshold FROM runs r JOIN tasks t ON t.id = r.task_id "
            f"WHERE r.id IN ({', '.join('?' for _ in labels)})",
            [lab.run_id for lab in labels],
        ).fetchall()
    )
    try:
        log = read_eval_log(str(start))
        log = apply_labels(log, labels, result, scorers, thresholds)
        target = out_path_for(path, in_place=in_place, out_dir=out_dir)
        if in_place:
            backup = backup_path_for(path)
            if not backup.exists():  # the first copy is the original: never overwrite it
                backup.parent.mkdir(exist_ok=True)
                shutil.copy2(path, backup)
            result.backup_path = str(backup)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
        _write(log, target)
    except Exception as exc:  # one bad log never stops the others; reported with its path
        result.status, result.error = "error", f"{path}: {type(exc).__name__}: {exc}"
        return result
    result.out_path = str(target)
    with write_transaction(db):
        db.execute(
            "INSERT INTO writebacks (source_id, out_path, in_place, backup_path, content_hash, n_annotated, "
            "n_invalidated, n_edited, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [source_id, str(target), int(in_place), result.backup_path, file_hash(target), result.n_annotated,
             result.n_invalidated, result.n_edited, now()],
        )  # fmt: skip
    return result


def writeback(db: Database, *, sources: list[str] | None = None, in_place: bool = False,
              out_dir: Path | None = None, progress: Callable[[str, int, int], None] | None = None,
              ) -> list[WritebackResult]:  # fmt: skip
    """Write back every imported Inspect log that has labelled samples (or only ``sources``, by path)."""
    by_source: dict[int, list[LabelledRun]] = defaultdict(list)
    for label in labelled_runs(db):
        if label.source_id is not None:
            by_source[label.source_id].append(label)
    wanted = {str(Path(s).resolve()) for s in sources} if sources else None
    chosen = []
    for source_id in sorted(by_source):
        first = by_source[source_id][0]
        # Every labelled Inspect log, or exactly the logs asked for (another format is then an error).
        if (first.source_path in wanted) if wanted is not None else first.source_format == "inspect":
            chosen.append(source_id)
    results = []
    for index, source_id in enumerate(chosen):
        if progress:
            progress(by_source[source_id][0].source_path or "", index, len(chosen))
        results.append(writeback_source(db, source_id, by_source[source_id], in_place=in_place, out_dir=out_dir))
    if wanted:
        found = {by_source[s][0].source_path for s in chosen}
        for missing in sorted(wanted - found):
            results.append(
                WritebackResult(missing, status="error", error=f"{missing}: no imported log with labelled samples here")
            )
    return results
