"""Benchmark: a generated workspace of a million runs, end to end through the command line.

    python bench/million.py --runs 1000000 [--out /tmp/triage-million] [--keep] [--steps import,score,...]
    python bench/million.py --runs 20000          # the same at a small size, for development

Generates (not committed, in ``--out``) a realistic mixture: about 70% of runs as Inspect ``.eval``
logs (zip, deflate members, one per agent and task family, hundreds of samples each) and 30% as OpenAI-chat
JSONL (10,000 records per file), replicated from the packaged demo dataset's runs, which cover every
failure kind the demo knows (infrastructure errors, usage limits, loops, format errors, refusals, giving
up, missing dependencies, near misses, wrong answers, tool time-outs, cheats...). Each replica gets its
own ids, one of 21 agents, one of 2,000 tasks in 100 families (``tasks.yaml`` gives human minutes), and
words drawn from a long-tailed vocabulary in its tool output and errors, so failures spread over many
distinct signatures; one run in ten has tool output 2-40x longer (transcript sizes are long-tailed).

Then runs each step as its own ``triage`` process (``--json``) and reports wall time and the process's
peak resident memory (``wait4`` rusage): import (throughput, database size per run), analyze, cluster,
score by agent and by task with 1,000 bootstrap samples and by task without, search (index build, then
query latency), the TUI (``bench/tui.py --db``: first paint, label keystroke), and the reading commands a
reviewer runs by hand ("interactive": ``info``, ``clusters --limit 10``, ``audit``).

Bars (issue 17, 2 cores): cluster < 60 s, TUI first paint < 1 s, label keystroke < 100 ms,
``score --by task`` < 3 s, peak memory < 4 GB.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import signal
import sqlite3
import string
import subprocess
import sys
import threading
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage.importers.inspect_zip import EvalZip  # noqa: E402

DEMO = ROOT / "triage" / "demo" / "data"
RECORDS_PER_JSONL = 10_000
INSPECT_SHARE = 0.7
FAMILY_COPIES, TASK_COPIES, AGENT_VARIANTS = 25, 8, 7  # 10 demo tasks -> 2,000 tasks; 3 agents -> 21
# Scoring needs no analysis, so it runs before it; search (its index build is long) runs last.
STEPS = ("import", "score", "analyze", "cluster", "tui", "search", "interactive")


WORD = "\u2063W\u2063"  # a marker no transcript holds: each occurrence becomes a vocabulary word
LONG = (1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 20, 40)  # tool-output multipliers: one run in ten has long output


def _vocabulary(rng: random.Random, size: int = 3_000) -> list[bytes]:
    return ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 10))).encode() for _ in range(size)]


def _words(rng: random.Random, words: list[bytes], n: int) -> list[bytes]:
    # Long-tailed: a few words are common (big clusters), most are rare (small ones).
    return [words[min(int(rng.paretovariate(1.1)) - 1, len(words) - 1)] for _ in range(n)]


def _marked(messages: list, long: int) -> list:
    """``messages`` with a word marker in every tool output and tool error (the longest output ``long`` times)."""
    out = [dict(m) for m in messages]
    tools = [m for m in out if m.get("role") == "tool" and isinstance(m.get("content"), str)]
    for m in tools:
        m["content"] = f"{m['content']}\n[{WORD}]"
        if isinstance(m.get("error"), dict) and isinstance(m["error"].get("message"), str):
            m["error"] = {**m["error"], "message": f"{m['error']['message']} ({WORD})"}
    if tools and long > 1:
        longest = max(tools, key=lambda m: len(m["content"]))
        longest["content"] = longest["content"] * long
    return out


def _templates(item: dict, **fields: str) -> list[list[bytes]]:
    """``item`` as JSON split at its word markers, once per tool-output length; ``fields`` are set to
    markers too (``%(name)s`` placeholders filled per replica)."""
    out = []
    for long in LONG:
        copy = {**item, **fields, "messages": _marked(item.get("messages") or [], long)}
        if isinstance(copy.get("error"), dict):
            copy["error"] = {**copy["error"], "message": f"{copy['error'].get('message', '')} ({WORD})"}
        elif isinstance(copy.get("error"), str):
            copy["error"] = f"{copy['error']} ({WORD})"
        out.append(orjson.dumps(copy).split(WORD.encode()))
    return out


def _fill(parts: list[bytes], rng: random.Random, words: list[bytes], values: dict[bytes, bytes]) -> bytes:
    text = b"".join(p for pair in zip(parts, [*_words(rng, words, len(parts) - 1), b""], strict=True) for p in pair)
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def _demo_logs() -> list[tuple[dict, list[dict]]]:
    """(header, samples) of each demo Inspect log (one agent, one task family), events left out."""
    logs = []
    for path in sorted(DEMO.glob("*.eval")):
        with EvalZip(path) as archive:
            header, _ = archive.header()
            samples = []
            for entry in archive.samples():
                sample = archive.read_sample(entry)
                sample.pop("events", None)
                sample.pop("events_data", None)
                samples.append(sample)
        logs.append((header, samples))
    return logs


def _write_inspect(out: Path, key: tuple[int, int, int], epochs: int, limit: int, seed: int) -> int:
    """One .eval log (zip, deflate members): demo log ``d`` as family copy ``f`` run by agent variant ``a``,
    every task copy, ``epochs`` blocks of the demo's epochs; at most ``limit`` samples."""
    d, f, a = key
    rng = random.Random(seed)
    words = _vocabulary(random.Random(0))
    header, samples = _demo_logs()[d]
    spec = dict(header["eval"])
    spec.update(eval_id=f"bench-{d}-{f}-{a}", task=f"{spec.get('task', 'family')}{f}",
                model=f"{spec.get('model', 'model')}-v{a}")  # fmt: skip
    span = max(int(s.get("epoch", 1)) for s in samples)
    templates = [_templates(s, id="\u2063ID\u2063", uuid="\u2063UUID\u2063") for s in samples]
    written = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        start = {"version": header.get("version", 2), "eval": spec, "plan": {}}
        dst.writestr("_journal/start.json", orjson.dumps(start))
        for block in range(epochs):
            for t in range(TASK_COPIES):
                for sample, variants in zip(samples, templates, strict=True):
                    if written >= limit:
                        break
                    sample_id = f"{sample['id']}-{t}"
                    epoch = int(sample.get("epoch", 1)) + block * span
                    values = {b"\xe2\x81\xa3ID\xe2\x81\xa3": sample_id.encode(),
                              b"\xe2\x81\xa3UUID\xe2\x81\xa3": f"u{seed}-{written}".encode()}  # fmt: skip
                    data = _fill(rng.choice(variants), rng, words, values)
                    data = data.replace(b'"epoch":' + str(sample.get("epoch", 1)).encode() + b",",
                                        b'"epoch":' + str(epoch).encode() + b",", 1)  # fmt: skip
                    dst.writestr(f"samples/{sample_id}_epoch_{epoch}.json", data)
                    written += 1
        dst.writestr("header.json", orjson.dumps({**header, "eval": spec}))
    return written


def _write_jsonl(out: Path, first: int, count: int, seed: int) -> int:
    rng = random.Random(seed)
    words = _vocabulary(random.Random(0))
    records = [orjson.loads(line) for line in (DEMO / "n1-pro.jsonl").read_bytes().splitlines() if line.strip()]
    marks = {"id": "\u2063ID\u2063", "task_id": "\u2063TASK\u2063", "model": "\u2063MODEL\u2063"}
    templates = [_templates(r, **marks) for r in records]
    with open(out, "wb") as fh:
        for k in range(count):
            index = first + k
            record = records[index % len(records)]
            f = (index // len(records)) % FAMILY_COPIES
            t = (index // len(records) // FAMILY_COPIES) % TASK_COPIES
            a = (index // len(records) // FAMILY_COPIES // TASK_COPIES) % AGENT_VARIANTS
            family, _, name = str(record.get("task_id", "family/task")).partition("/")
            values = {b"\xe2\x81\xa3ID\xe2\x81\xa3": f"{record.get('id', 'r')}-n{index}".encode(),
                      b"\xe2\x81\xa3TASK\xe2\x81\xa3": f"{family}{f}/{name}-{t}".encode(),
                      b"\xe2\x81\xa3MODEL\xe2\x81\xa3": f"{record.get('model', 'model')}-v{a}".encode()}  # fmt: skip
            fh.write(_fill(rng.choice(templates[index % len(records)]), rng, words, values) + b"\n")
    return count


def _tasks_yaml(out: Path) -> None:
    demo = yaml.safe_load((DEMO / "tasks.yaml").read_text())["tasks"]
    rng = random.Random(1)
    tasks = []
    for task in demo:
        family, _, name = task["id"].partition("/")
        for f in range(FAMILY_COPIES):
            for t in range(TASK_COPIES):
                minutes = task.get("human_minutes") or 10
                tasks.append({"id": f"{family}{f}/{name}-{t}", "family": f"{family}{f}",
                              "human_minutes": round(minutes * 2 ** rng.uniform(-1, 1), 1),
                              "human_source": "estimate", "threshold": task.get("threshold")})  # fmt: skip
    (out / "tasks.yaml").write_text(yaml.safe_dump({"tasks": tasks}, sort_keys=False))


def generate(out: Path, runs: int, workers: int) -> dict:
    """Write the files for about ``runs`` runs into ``out``; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    n_inspect = int(runs * INSPECT_SHARE)
    logs = _demo_logs()
    per_set = sum(len(samples) for _, samples in logs) * FAMILY_COPIES * TASK_COPIES * AGENT_VARIANTS
    epochs = max(1, -(-n_inspect // per_set))
    jobs, planned = [], 0
    keys = [(d, f, a) for a in range(AGENT_VARIANTS) for f in range(FAMILY_COPIES) for d in range(len(logs))]
    for i, key in enumerate(keys):
        if planned >= n_inspect:
            break
        size = min(len(logs[key[0]][1]) * TASK_COPIES * epochs, n_inspect - planned)
        jobs.append((_write_inspect, out / f"inspect-{i:05d}.eval", key, epochs, size, i))
        planned += size
    for i, first in enumerate(range(0, runs - planned, RECORDS_PER_JSONL)):
        count = min(RECORDS_PER_JSONL, runs - planned - first)
        jobs.append((_write_jsonl, out / f"chat-{i:04d}.jsonl", first, count, 10_000 + i))
    _tasks_yaml(out)
    with ProcessPoolExecutor(workers) as pool:
        written = sum(pool.map(_call, jobs, chunksize=4))
    size = sum(p.stat().st_size for p in out.iterdir())
    return {"runs": written, "files": len(jobs) + 1, "mb": round(size / 1e6)}


def _call(job: tuple) -> int:
    fn, *args = job
    return fn(*args)


# Query latency inside one process (what the TUI and a long-lived caller see): median of 5 per query.
SEARCH_LATENCY = """
import statistics, sys, time
from triage.db import open_db
from triage.search import search
db = open_db(sys.argv[1], create=False)
for query in ("ModuleNotFoundError", "timed out", "connection reset", "cannot assist", "traceback"):
    times = []
    for _ in range(5):
        start = time.perf_counter()
        result = search(db, query, limit=20, update=False)
        times.append(time.perf_counter() - start)
    print(f"  {query!r}: {statistics.median(times) * 1000:.0f} ms, {result.total:,} runs match")
"""


def run_step(argv: list[str], log: Path, timeout: float | None = None) -> dict:
    """Run one command; wall seconds, peak RSS (MB) of that process, exit code, and its JSON output.

    After ``timeout`` seconds the command is interrupted (SIGINT: it rolls back its open transaction).
    """
    start = time.perf_counter()
    with open(log, "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
        timer = threading.Timer(timeout, proc.send_signal, [signal.SIGINT]) if timeout else None
        if timer:
            timer.start()
        stdout = proc.stdout.read() if proc.stdout else b""
        _, status, usage = os.wait4(proc.pid, 0)
        timed_out = bool(timer) and not timer.is_alive() and time.perf_counter() - start >= (timeout or 0)
        if timer:
            timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    try:
        data = orjson.loads(stdout) if stdout.strip() else None
    except orjson.JSONDecodeError:
        data = stdout.decode(errors="replace")[-2000:]
    return {"seconds": round(wall, 2), "peak_mb": round(usage.ru_maxrss / 1024), "exit": proc.returncode,
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "output": data, "timed_out": timed_out}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/triage-million"))
    parser.add_argument("--keep", action="store_true", help="keep the generated files and workspace")
    parser.add_argument("--reuse", action="store_true", help="reuse files already generated in --out")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {', '.join(STEPS)}")
    parser.add_argument("--workers", type=int, default=2, help="processes for generating the files")
    parser.add_argument("--analyze-timeout", type=float, help="interrupt `triage analyze` after this many seconds")
    args = parser.parse_args()
    steps = args.steps.split(",")
    data, db = args.out / "data", args.out / "ws.db"
    triage = [sys.executable, "-m", "triage"]
    say = lambda msg: print(msg, flush=True)  # noqa: E731
    say(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    if not (args.reuse and data.exists()):
        shutil.rmtree(args.out, ignore_errors=True)
        start = time.perf_counter()
        made = generate(data, args.runs, args.workers)
        say(f"generated {made['runs']:,} runs in {made['files']} files ({made['mb']:,} MB) in "
            f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    try:
        if "import" in steps:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            r = results["import"] = run_step([*triage, "import", str(data), "--db", str(db), "--json"], logs / "import")
            out = r["output"] if isinstance(r["output"], dict) else {}
            runs = out.get("runs_added", 0)
            size = db.stat().st_size
            say(f"import: {runs:,} runs in {r['seconds']} s ({runs / max(r['seconds'], 1e-9):,.0f} runs/s, "
                f"{r['cpu_s']} s CPU in the importing process), peak {r['peak_mb']:,} MB, {len(out.get('errors', []))} "
                f"errors; database {size / 1e9:.2f} GB ({size / max(runs, 1) / 1024:.1f} KB per run)")  # fmt: skip
        if "score" in steps:
            for by, boot in (("agent", 1000), ("task", 1000), ("task", 0), ("agent", 0)):
                r = results[f"score_{by}_{boot}"] = run_step(
                    [*triage, "score", "--db", str(db), "--by", by, "--bootstrap", str(boot), "--json"],
                    logs / f"score-{by}-{boot}",
                )
                bar = " (bar 3 s)" if by == "task" and boot == 0 else ""
                say(f"score --by {by} --bootstrap {boot}: {r['seconds']} s{bar}, peak {r['peak_mb']:,} MB "
                    f"(exit {r['exit']})")  # fmt: skip
        if "analyze" in steps:
            argv = [*triage, "analyze", "--db", str(db), "--json"]
            r = results["analyze"] = run_step(argv, logs / "analyze", args.analyze_timeout)
            with sqlite3.connect(db) as conn:
                done = conn.execute("SELECT count(*) FROM signatures").fetchone()[0]
                failures = conn.execute("SELECT count(*) FROM runs WHERE status != 'success'").fetchone()[0]
            r["signatures"], r["failures"] = done, failures
            say(f"analyze: {r['seconds']} s, peak {r['peak_mb']:,} MB (exit {r['exit']}); {done:,} of {failures:,} "
                f"failures have a signature ({done / max(r['seconds'], 1e-9):,.0f} per s)")  # fmt: skip
        if results.get("analyze", {}).get("timed_out"):
            say("cluster and tui skipped: the analysis did not finish within --analyze-timeout")
            steps = [s for s in steps if s not in ("cluster", "tui")]
        if "cluster" in steps:
            r = results["cluster"] = run_step([*triage, "cluster", "--db", str(db), "--json"], logs / "cluster")
            n = len(r["output"]) if isinstance(r["output"], list) else (r["output"] or {}).get("clusters", "?")
            say(f"cluster: {r['seconds']} s (bar 60 s), peak {r['peak_mb']:,} MB, clusters: {n} (exit {r['exit']})")
        if "tui" in steps:
            start = time.perf_counter()
            done = subprocess.run([sys.executable, str(ROOT / "bench" / "tui.py"), "--db", str(db), "--repeat", "5"],
                                  capture_output=True, text=True, cwd=ROOT)  # fmt: skip
            results["tui"] = {"seconds": round(time.perf_counter() - start, 1), "output": done.stdout}
            say("tui:\n" + done.stdout + (done.stderr[-2000:] if done.returncode else ""))
        if "search" in steps:
            r = results["search_index"] = run_step(
                [*triage, "search", "ModuleNotFoundError", "--db", str(db), "--limit", "0", "--json"], logs / "search0"
            )
            say(f"search (first: builds the index): {r['seconds']} s, peak {r['peak_mb']:,} MB (exit {r['exit']})")
            for query in ("timed out", "cannot assist", "traceback"):
                r = results[f"search {query}"] = run_step(
                    [*triage, "search", query, "--db", str(db), "--json"], logs / "search"
                )
                say(f"search {query!r}: {r['seconds']} s (a whole process), peak {r['peak_mb']:,} MB")
            latency = subprocess.run([sys.executable, "-c", SEARCH_LATENCY, str(db)], capture_output=True, text=True,
                                     cwd=ROOT)  # fmt: skip
            results["search_latency"] = {"output": latency.stdout}
            say("search latency in one process (index up to date; median of 5):\n" + latency.stdout.rstrip())
        if "interactive" in steps:
            # Reading commands a reviewer runs by hand: one process each (start-up included), exit 1 is a
            # verdict (audit: an item fails), not an error.
            for name, argv in (("info", ["info"]), ("clusters", ["clusters", "--limit", "10"]), ("audit", ["audit"])):
                r = results[name] = run_step([*triage, *argv, "--db", str(db), "--json"], logs / name)
                say(f"{' '.join(argv)}: {r['seconds']} s, peak {r['peak_mb']:,} MB (exit {r['exit']})")
    finally:
        (args.out / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
        if not args.keep:
            shutil.rmtree(args.out, ignore_errors=True)
    say(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
