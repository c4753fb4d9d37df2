"""Benchmark the failure detectors and causes against the hand-labelled cause reference.

    python bench/detectors.py                 # table
    python bench/detectors.py --json          # machine-readable
    python bench/detectors.py --candidates swe-agent   # list failures of a source with their key evidence

Imports the transcript sources the reference names (../shared/corpus or $TRIAGE_CORPUS; never METR's
score-only table) and the Inspect logs that tests/cause_logs.py has inspect_ai write, into a temporary
workspace; runs `analyze`; then compares with tests/data/causes/*.jsonl (one failure per line: ``run_id``,
``cause``, ``category``, ``reason``, ``source``).

Per detector: firings on failed runs (all, and on reference failures), firings that propose a category,
precision of that proposal against the reference category, and recall (reference failures of the
detector's cause that it found with a non-weak finding). Per cause: the reference count, how many
failures analyze gave that cause, precision and recall. Bar: every proposing detector >= 90% precision
on >= 20 firings (fewer firings are reported as such).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

CORPUS = Path(os.environ.get("TRIAGE_CORPUS", ROOT.parent / "shared" / "corpus"))
REFERENCE_DIR = ROOT / "tests" / "data" / "causes"
PRECISION_BAR = 0.9
MIN_FIRINGS = 20


def reference() -> list[dict]:
    rows = []
    for path in sorted(REFERENCE_DIR.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                item = json.loads(line)
                item["_file"] = f"{path.name}:{n}"
                rows.append(item)
    return rows


def sources(rows: list[dict]) -> list[Path]:
    """Corpus folders the reference draws on (the top folder of each source path)."""
    tops = sorted(
        {Path(r["source"]).parts[0] for r in rows if r.get("source") and not r["source"].startswith("generated:")}
    )
    return [CORPUS / t for t in tops if (CORPUS / t).exists()]


def build(workdir: Path, rows: list[dict]) -> object:
    from triage.db import open_db
    from triage.failures import analyze
    from triage.ingest import import_paths

    db = open_db(workdir / "bench.db")
    paths: list[Path] = sources(rows)
    if any(r.get("source", "").startswith("generated:") for r in rows):
        import cause_logs

        paths.extend(cause_logs.generate(workdir / "generated").values())  # inspect_ai writes them afresh
    print(f"importing {len(paths)} sources ...", file=sys.stderr)
    import_paths(db, paths)
    summary = analyze(db)
    print(f"analysed {summary['analyzed']} runs in {summary['seconds']} s", file=sys.stderr)
    for error in summary["errors"]:  # a detector or cause rule that raised: its evidence is missing below
        print(f"analysis error: {error['run_id']}: {error['error']}", file=sys.stderr)
    return db


def resolve(db, rows: list[dict]) -> list[dict]:
    """Rows of generated logs name a sample, not a run (their eval ids are random): one row per epoch."""
    out = []
    for row in rows:
        if row.get("run_id"):
            out.append(row)
            continue
        for (run_id,) in db.execute(
            "SELECT r.id FROM runs r JOIN sources s ON s.id = r.source_id WHERE r.sample_id = ? AND s.path LIKE ?",
            [row["sample_id"], "%causes%"],
        ):
            out.append({**row, "run_id": run_id})
    return out


def measure(db, rows: list[dict]) -> dict:
    from triage.failures import DETECTORS

    rows = resolve(db, rows)
    ref = {r["run_id"]: r for r in rows}
    failed = {rid for (rid,) in db.execute("SELECT id FROM runs WHERE status != 'success'")}
    missing = [r["run_id"] for r in rows if r["run_id"] not in failed]
    causes = dict(db.execute("SELECT run_id, cause FROM signatures"))
    dets: dict[str, list[tuple]] = defaultdict(list)
    for run_id, detector, category, detail, strength in db.execute(
        "SELECT run_id, detector, category, detail, strength FROM detections"
    ):
        if run_id in failed:
            d = json.loads(detail) if detail else {}
            dets[detector].append((run_id, category, d.get("cause"), strength))
    table = []
    for name in DETECTORS:
        hits = dets.get(name, [])
        on_ref = [h for h in hits if h[0] in ref]
        proposing = [h for h in on_ref if h[1]]
        right = [h for h in proposing if h[1] == ref[h[0]].get("category")]
        det_causes = {h[2] for h in hits if h[2]} | _declared_causes(name)
        wanted = [r for r in rows if r["cause"] in det_causes and r["run_id"] in failed]
        # Found: the detector's finding carries the reference cause and decided the failure's cause.
        found = {h[0] for h in hits if h[2] and h[2] == ref.get(h[0], {}).get("cause") and causes.get(h[0]) == h[2]}
        table.append(
            {
                "detector": name,
                "categories": list(DETECTORS[name].categories),
                "firings": len(hits),
                "on_reference": len(on_ref),
                "proposals": len(proposing),
                "precision": round(len(right) / len(proposing), 3) if proposing else None,
                "wrong": [
                    (h[0], h[1], ref[h[0]].get("category")) for h in proposing if h[1] != ref[h[0]].get("category")
                ][:8],
                "cause_reference": len(wanted),
                "recall": round(sum(r["run_id"] in found for r in wanted) / len(wanted), 3) if wanted else None,
                "meets_bar": None if len(proposing) < MIN_FIRINGS else (len(right) / len(proposing) >= PRECISION_BAR),
            }
        )
    per_cause = []
    by_cause: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["run_id"] in failed:
            by_cause[_family(r["cause"])].append(r["run_id"])
    predicted: dict[str, list[str]] = defaultdict(list)
    for rid, cause in causes.items():
        if rid in ref:
            predicted[_family(cause)].append(rid)
    for cause in sorted(set(by_cause) | set(predicted)):
        truth, got = set(by_cause.get(cause, [])), set(predicted.get(cause, []))
        per_cause.append(
            {
                "cause": cause,
                "reference": len(truth),
                "assigned": len(got),
                "precision": round(len(truth & got) / len(got), 3) if got else None,
                "recall": round(len(truth & got) / len(truth), 3) if truth else None,
            }
        )
    agree = sum(_family(causes.get(r["run_id"], "")) == _family(r["cause"]) for r in rows if r["run_id"] in failed)
    per_source = Counter(r.get("source", "?").split("/")[0].split(":")[0] for r in rows if r["run_id"] in failed)
    return {
        "reference": len(rows),
        "reference_found": len(rows) - len(missing),
        "missing": missing[:10],
        "per_source": dict(per_source),
        "cause_accuracy": round(agree / max(1, len(rows) - len(missing)), 3),
        "detectors": table,
        "causes": per_cause,
    }


def _family(cause: str | None) -> str:
    """``error:<class>`` causes are compared as ``error``."""
    return (cause or "").split(":", 1)[0]


def _declared_causes(name: str) -> set[str]:
    # Detectors whose cause id differs from their name; the others name their cause.
    return {
        "infra_error": {"sandbox_failed", "provider_error"},
        "tool_error": {"tool_broken"},
        "format_error": {"format_misuse"},
        "usage_limit": {"limit_stalled", "limit_progressing"},
        "gave_up": {"gave_up", "empty_answer"},
    }.get(name, {name})


def show(result: dict) -> None:
    print(f"reference failures: {result['reference_found']} of {result['reference']} found in the workspace "
          f"({', '.join(f'{k} {v}' for k, v in sorted(result['per_source'].items()))})")  # fmt: skip
    if result["missing"]:
        print(f"  not found (first 10): {', '.join(result['missing'])}")
    print(f"cause accuracy (analyze's cause = reference cause): {result['cause_accuracy']:.1%}\n")
    head = f"{'detector':28} {'fires':>6} {'on ref':>6} {'props':>6} {'prec':>6} {'cause ref':>9} {'recall':>7}  bar"
    print(head)
    print("-" * len(head))
    for row in result["detectors"]:
        prec = "-" if row["precision"] is None else f"{row['precision']:.0%}"
        rec = "-" if row["recall"] is None else f"{row['recall']:.0%}"
        bar = {None: f"<{MIN_FIRINGS} proposals" if row["proposals"] else "no proposals", True: "ok", False: "FAIL"}[
            row["meets_bar"]
        ]
        print(f"{row['detector']:28} {row['firings']:>6} {row['on_reference']:>6} {row['proposals']:>6} {prec:>6} "
              f"{row['cause_reference']:>9} {rec:>7}  {bar}")  # fmt: skip
        for wrong in row["wrong"][:3]:
            print(f"{'':30}wrong: {wrong[0]} proposed {wrong[1]}, reference {wrong[2]}")
    print(f"\n{'cause':28} {'ref':>5} {'given':>6} {'prec':>6} {'recall':>7}")
    for row in result["causes"]:
        prec = "-" if row["precision"] is None else f"{row['precision']:.0%}"
        rec = "-" if row["recall"] is None else f"{row['recall']:.0%}"
        print(f"{row['cause']:28} {row['reference']:>5} {row['assigned']:>6} {prec:>6} {rec:>7}")


def candidates(db, fmt: str, tail: int) -> None:
    """Failures of one source with the evidence a labeller reads first (labels come from reading them)."""
    from triage.failures.context import RunContext
    from triage.failures.detectors.patches import patch_facts
    from triage.ingest import decode_messages

    cursor = db.execute(
        "SELECT r.*, t.messages AS _m, s.path AS _p FROM runs r JOIN sources s ON s.id = r.source_id "
        "LEFT JOIN transcripts t ON t.run_id = r.id WHERE s.format = ? AND r.status != 'success' ORDER BY r.id",
        [fmt],
    )
    cols = [c[0] for c in cursor.description]
    for values in cursor.fetchall():
        run = dict(zip(cols, values, strict=True))
        blob, path = run.pop("_m"), run.pop("_p")
        ctx = RunContext(run, decode_messages(blob) if blob else [])
        sig = db.execute("SELECT signature, cause, detail FROM signatures WHERE run_id = ?", [run["id"]]).fetchone()
        print("=" * 100)
        print(f"{run['id']} | {os.path.relpath(path, CORPUS)} | {run['status']} exit={run['exit_status']} "
              f"limit={run['limit_type']} actions={len(ctx.actions)}")  # fmt: skip
        print(f"  cause: {sig[1]} | {sig[2]} | {sig[0]}")
        answer = str(run.get("submission") or "")
        if "diff --git" in answer[:300]:
            print(f"  patch: {patch_facts(answer)}")
        else:
            print(f"  answer: {ctx.answer[1][-300:]!r} target: {str(run.get('target'))[:100]!r}")
        for d in db.execute(
            "SELECT detector, category, strength, excerpt FROM detections WHERE run_id = ?", [run["id"]]
        ):
            print(f"  det: {d[0]} {d[1]} {d[2]} {(d[3] or '')[:150]!r}")
        for action in ctx.actions[-tail:]:
            print(f"  act[{action.index}]: {action.text[:200]!r}")
            out = next((o for o in ctx.observations if o.index > action.index), None)
            if out:
                print(f"     -> {out.text[:250]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--candidates", metavar="FORMAT", help="list failures of one source format with their evidence")
    parser.add_argument("--tail", type=int, default=4, help="actions shown per candidate")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS} (set TRIAGE_CORPUS)")
    rows = reference()
    with tempfile.TemporaryDirectory() as tmp:
        if args.candidates:
            db = build(Path(tmp), [{"source": args.candidates}])
            candidates(db, args.candidates, args.tail)
            return
        db = build(Path(tmp), rows)
        result = measure(db, rows)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        show(result)


if __name__ == "__main__":
    main()
