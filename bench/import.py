"""Benchmark: importing Inspect logs, against Inspect's own full read of the same files.

    python bench/import.py                 # corpus .eval files, a larger replica, an agentic replica
    python bench/import.py --big           # also: peak memory importing a synthetic ~1 GB .eval
    python bench/import.py --big-only --big-mb 1024

Prints runs/s and MB/s of ``triage`` import (loader + SQLite, a fresh workspace each repetition; parser
processes on every core, and with ``--serial`` also in one process), the time of
``inspect_ai.log.read_eval_log`` (full read) on the same files in the same process, a bare single-core
zip + orjson parse of every member, and the ratios: of the best of ``--repeat`` rounds, and the median of
the rounds' own ratios (each round times the three in turn). CPU times include the parser processes.
Three inputs: the corpus's ``.eval`` files (mostly Inspect's own test logs, samples of two or three
messages), the corpus plus a replica of every corpus sample ``--copies`` times, and an agentic replica:
each corpus sample whose agent called tools (dozens of messages, events two thirds of the bytes), copied
``--agentic-copies`` times under new ids, for logs like the issue's "real agentic .eval logs".

``--big`` writes a synthetic ``.eval`` of about ``--big-mb`` MB (zip in Inspect's layout, zstd members,
many samples with long messages and tool output) into a temporary directory, imports it in a child
process and reports that process's peak resident memory (ru_maxrss); everything is deleted after.
Bars (issue 17): import >= 6x faster than Inspect's full read and faster than the bare single-core
parse; peak memory < 500 MB on the 1 GB log (the importing process and its parser processes, each).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "inspect"
sys.path.insert(0, str(ROOT))

from triage.db import open_db  # noqa: E402
from triage.importers.inspect_zip import EvalZip  # noqa: E402
from triage.ingest import import_paths  # noqa: E402
from triage.ingest.pool import default_workers  # noqa: E402


def _zstd_kwargs() -> dict:
    """zip arguments for zstd members, as current Inspect writes them (zstd via inspect's zipfile patch)."""
    import inspect_ai._util.zipfile as izip

    return dict(izip.zipfile_compress_kwargs)


def _shortid(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits, k=22))


def make_replicated_eval(
    corpus_files: list[Path], out: Path, copies: int, seed: int = 0, *, agentic_only: bool = False
) -> int:
    """A larger real-format ``.eval``: every corpus sample (``agentic_only``: every sample whose agent called a
    tool) ``copies`` times under new ids.

    Samples keep Inspect's full schema (events included), so ``read_eval_log`` reads the file too.
    Returns the number of samples written.
    """
    rng = random.Random(seed)
    header = None
    written = 0
    with zipfile.ZipFile(out, "w", **_zstd_kwargs()) as dst:
        for index, path in enumerate(corpus_files):
            with EvalZip(path) as archive:
                if header is None and archive.has("header.json"):
                    header = archive.read_json("header.json")
                for entry in archive.samples():
                    if entry.chunked:
                        continue
                    sample = archive.read_json(entry.name)  # whole, events included (read_sample drops them)
                    if agentic_only and not any(m.get("role") == "tool" for m in sample.get("messages") or []):
                        continue
                    for k in range(copies):
                        copy = dict(sample)
                        copy["id"] = f"{index}-{sample['id']}-{k}"
                        copy["uuid"] = _shortid(rng)
                        dst.writestr(f"samples/{copy['id']}_epoch_{copy['epoch']}.json", orjson.dumps(copy))
                        written += 1
        assert header is not None
        header["eval"]["eval_id"] = _shortid(rng)
        header["eval"]["task"] = "synthetic_replica"
        dst.writestr(
            "_journal/start.json",
            orjson.dumps({"version": header["version"], "eval": header["eval"], "plan": header.get("plan", {})}),
        )
        dst.writestr("header.json", orjson.dumps(header))
    return written


def _word_pool(rng: random.Random, size: int) -> str:
    """Random words: text that compresses about as well as real transcripts (~3x with zstd)."""
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(5000)]
    out, total = [], 0
    while total < size:
        line = " ".join(rng.choices(words, k=12))
        out.append(line)
        total += len(line) + 1
    return "\n".join(out)


def _synthetic_sample(rng: random.Random, pool: str, index: int) -> dict:
    """One sample with long messages: 20 tool calls with 10-40 KB of output each (~0.5 MB of JSON)."""

    def text(n: int) -> str:
        start = rng.randrange(0, len(pool) - n)
        return pool[start : start + n]

    messages = [{"role": "system", "content": text(2_000)}, {"role": "user", "content": text(4_000)}]
    events = []
    for turn in range(20):
        call_id = f"call_{turn}"
        messages.append({"role": "assistant", "content": text(1_500), "tool_calls": [
            {"id": call_id, "function": "bash", "arguments": {"cmd": text(200)}}]})  # fmt: skip
        output = text(rng.randint(10_000, 40_000))
        tool = {"role": "tool", "content": output, "tool_call_id": call_id, "function": "bash"}
        if turn % 7 == 3:
            tool["error"] = {"type": "timeout", "message": "Command timed out before completing."}
        messages.append(tool)
        events.append({"event": "tool", "id": call_id, "function": "bash", "result": output})
    messages.append({"role": "assistant", "content": text(800)})
    sample = {
        "id": f"sample-{index}", "epoch": 1, "input": messages[1]["content"], "target": "42",
        "messages": messages, "output": {"completion": messages[-1]["content"]},
        "scores": {"match": {"value": "C" if index % 3 else "I", "answer": "42"}},
        "events": events,
        "model_usage": {"mockllm/model": {"input_tokens": 90_000, "output_tokens": 4_000, "total_tokens": 94_000}},
        "total_time": 120.0, "working_time": 100.0,
    }  # fmt: skip
    if index % 10 == 9:
        sample["limit"] = {"type": "message", "limit": 44}
    return sample


def _eval_spec(rng: random.Random, task: str) -> dict:
    return {
        "eval_id": _shortid(rng), "run_id": _shortid(rng), "task_id": _shortid(rng),
        "created": "2025-01-01T00:00:00+00:00", "task": task, "task_version": 0, "dataset": {"samples": 0},
        "model": "mockllm/model", "config": {"epochs": 1}, "packages": {"inspect_ai": "0.3"},
    }  # fmt: skip


def make_big_eval(out: Path, target_mb: int, seed: int = 0) -> tuple[int, int]:
    """A synthetic ``.eval`` of about ``target_mb`` MB: many samples with long messages and tool output.

    Written with zipfile in Inspect's layout (``_journal/start.json``, ``samples/<id>_epoch_<n>.json``,
    ``header.json``), zstd members. Returns (samples, bytes of uncompressed sample JSON).
    """
    rng = random.Random(seed)
    pool = _word_pool(rng, 32 * 1024 * 1024)
    eval_spec = _eval_spec(rng, "synthetic_big")
    samples = raw = 0
    with zipfile.ZipFile(out, "w", **_zstd_kwargs()) as dst:
        dst.writestr("_journal/start.json", orjson.dumps({"version": 2, "eval": eval_spec, "plan": {}}))
        while out.stat().st_size < target_mb * 1024 * 1024:
            data = orjson.dumps(_synthetic_sample(rng, pool, samples))
            raw += len(data)
            dst.writestr(f"samples/sample-{samples}_epoch_1.json", data)
            samples += 1
            dst.fp.flush()  # type: ignore[union-attr]
        eval_spec["dataset"]["samples"] = samples
        dst.writestr("header.json", orjson.dumps({"version": 2, "status": "success", "eval": eval_spec, "plan": {}}))
    return samples, raw


def make_big_json(out: Path, target_mb: int, seed: int = 1) -> int:
    """A synthetic Inspect ``.json`` log of about ``target_mb`` MB, written sample by sample."""
    rng = random.Random(seed)
    pool = _word_pool(rng, 32 * 1024 * 1024)
    header = {"version": 2, "status": "success", "eval": _eval_spec(rng, "synthetic_json"), "plan": {}}
    samples = 0
    with open(out, "wb") as fh:
        fh.write(orjson.dumps(header)[:-1] + b', "samples": [')
        while fh.tell() < target_mb * 1024 * 1024:
            fh.write((b"," if samples else b"") + orjson.dumps(_synthetic_sample(rng, pool, samples)))
            samples += 1
        fh.write(b"]}")
    return samples


def _best(fn, repeat: int, setup=None) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds of ``fn(setup())`` over ``repeat`` runs (setup not timed)."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        arg = setup() if setup else None
        start_wall, start_cpu = time.perf_counter(), _cpu()
        fn(arg) if setup else fn()
        wall = min(wall, time.perf_counter() - start_wall)
        cpu = min(cpu, _cpu() - start_cpu)
    return wall, cpu


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the import's parser processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bench_speed(files: list[Path], repeat: int, tmp: Path, workers: int | None = None) -> dict:
    from inspect_ai.log import read_eval_log

    size_mb = sum(f.stat().st_size for f in files) / 1e6
    counter: dict[str, int] = {}

    def fresh_workspace():
        return open_db(tmp / f"bench-{time.perf_counter_ns()}.db")

    def ours(db) -> None:
        summary = import_paths(db, files, workers=workers)
        if summary.errors:
            raise SystemExit(f"import errors: {summary.errors}")
        counter["runs"] = summary.runs_added + summary.runs_skipped

    def inspect_full() -> None:
        for f in files:
            read_eval_log(str(f))

    def bare() -> None:
        for f in files:
            with EvalZip(f) as archive:
                for name in archive.members:
                    if name.endswith(".json"):
                        orjson.loads(archive.read_bytes(name))

    ours(fresh_workspace())  # warm up: module imports, loader registry
    # The three are timed in turn within each round, so a burst of load from other jobs on the machine
    # slows one round of all three rather than one of them: the ratios are also given per round (median).
    rounds = []
    for _ in range(repeat):
        rounds.append((_best(ours, 1, fresh_workspace), _best(inspect_full, 1), _best(bare, 1)))
    (t_ours, c_ours), (t_inspect, c_inspect), (t_bare, c_bare) = (
        (min(r[k][0] for r in rounds), min(r[k][1] for r in rounds)) for k in range(3)
    )
    vs_bare = statistics.median(r[2][0] / r[0][0] for r in rounds)
    vs_inspect = statistics.median(r[1][0] / r[0][0] for r in rounds)
    for leftover in tmp.glob("bench-*.db*"):
        leftover.unlink()
    runs = counter["runs"]
    return {
        "files": len(files), "size_mb": round(size_mb, 2), "runs": runs,
        "import_s": round(t_ours, 3), "runs_per_s": round(runs / t_ours), "mb_per_s": round(size_mb / t_ours, 1),
        "inspect_read_s": round(t_inspect, 3), "bare_zip_orjson_s": round(t_bare, 3),
        "speedup_vs_inspect": round(t_inspect / t_ours, 2), "bare_vs_inspect": round(t_inspect / t_bare, 2),
        "speedup_vs_bare": round(t_bare / t_ours, 2), "workers": workers or f"auto (up to {default_workers()})",
        "median_round": {"speedup_vs_inspect": round(vs_inspect, 2), "speedup_vs_bare": round(vs_bare, 2)},
        "cpu": {"import_s": round(c_ours, 3), "inspect_read_s": round(c_inspect, 3), "bare_s": round(c_bare, 3),
                "speedup_vs_inspect": round(c_inspect / c_ours, 2), "bare_vs_inspect": round(c_inspect / c_bare, 2)},
    }  # fmt: skip


def _parse_pass(path: Path, passes: int) -> float:
    """Best CPU seconds of reading ``path``'s samples into encoded run records (no SQLite), over ``passes``."""
    from triage.importers.base import LoadOptions
    from triage.importers.inspect_log import LogContext
    from triage.importers.inspect_sample import sample_to_run
    from triage.importers.inspect_zip import without_events
    from triage.ingest.store import run_record

    with EvalZip(path) as archive:
        ctx = LogContext(path, archive.header()[0], LoadOptions(), "header.json")
        entries = [e for e in archive.samples() if not e.chunked]
        best = float("inf")
        for _ in range(passes):
            start = time.process_time()
            for entry in entries:
                run_record(sample_to_run(without_events(archive.read_bytes(entry.name)), ctx, entry.name))
            best = min(best, time.process_time() - start)
    return best


def bench_contention(path: Path, passes: int = 5) -> dict:
    """The same CPU-bound parsing in one process, then in two at once: how much two cores give together."""
    import multiprocessing

    alone = _parse_pass(path, passes)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pair = pool.starmap(_parse_pass, [(path, passes), (path, passes)])
    return {"alone_cpu_s": round(alone, 3), "pair_cpu_s": [round(x, 3) for x in pair],
            "two_cores_vs_one": round(2 * alone / max(pair), 2)}  # fmt: skip


_CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from triage.db import open_db
from triage.importers import inspect_log
from triage.ingest import import_paths
if {stream_bytes!r} is not None:
    inspect_log.JSON_STREAM_BYTES = {stream_bytes!r}
db = open_db({db!r})
start = time.perf_counter()
summary = import_paths(db, [{log!r}])
elapsed = time.perf_counter() - start
runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
usage = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = usage.ru_utime + usage.ru_stime + kids.ru_utime + kids.ru_stime
print(runs, elapsed, usage.ru_maxrss, len(summary.errors), cpu, kids.ru_maxrss)
"""


def _import_in_child(log: Path, db: Path, stream_bytes: int | None = None) -> tuple[int, float, int, int, float, int]:
    """(runs, seconds, peak RSS in KB, errors, CPU seconds, largest parser process's peak RSS in KB) of
    importing ``log`` in a fresh Python process."""
    code = _CHILD.format(root=str(ROOT), db=str(db), log=str(log), stream_bytes=stream_bytes)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), float(out[1]), int(out[2]), int(out[3]), float(out[4]), int(out[5])


def bench_big(tmp: Path, target_mb: int) -> dict:
    log = tmp / "synthetic-big.eval"
    start = time.perf_counter()
    samples, raw = make_big_eval(log, target_mb)
    gen_s = time.perf_counter() - start
    size = log.stat().st_size
    runs, elapsed, maxrss_kb, errors, cpu, worker_kb = _import_in_child(log, tmp / "big.db")
    figures = {
        "file_mb": round(size / 1e6), "samples": samples, "uncompressed_json_mb": round(raw / 1e6),
        "generate_s": round(gen_s, 1), "runs": runs, "errors": errors, "import_s": round(elapsed, 1),
        "runs_per_s": round(runs / elapsed), "mb_per_s": round(size / 1e6 / elapsed, 1), "cpu_s": round(cpu, 1),
        "peak_rss_mb": round(maxrss_kb / 1024), "worker_peak_rss_mb": round(worker_kb / 1024),
        "db_mb": round((tmp / "big.db").stat().st_size / 1e6),
    }  # fmt: skip
    log.unlink()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp / 'big.db'}{suffix}").unlink(missing_ok=True)
    return figures


def bench_json(tmp: Path, target_mb: int) -> dict:
    """A large .json log read whole with orjson versus streamed with ijson: time and peak memory."""
    log = tmp / "synthetic-big.json"
    samples = make_big_json(log, target_mb)
    size_mb = log.stat().st_size / 1e6
    figures: dict = {"file_mb": round(size_mb), "samples": samples}
    for mode, threshold in (("orjson_whole", 1 << 62), ("ijson_stream", 0)):
        db = tmp / f"json-{mode}.db"
        runs, elapsed, maxrss_kb, errors, cpu, _ = _import_in_child(log, db, threshold)
        figures[mode] = {"import_s": round(elapsed, 1), "mb_per_s": round(size_mb / elapsed, 1), "cpu_s": round(cpu, 1),
                         "peak_rss_mb": round(maxrss_kb / 1024), "runs": runs, "errors": errors}  # fmt: skip
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    log.unlink()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of Inspect logs (.eval used)")
    parser.add_argument("--copies", type=int, default=6, help="copies of each corpus sample in the larger .eval")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (best time is reported)")
    parser.add_argument("--big", action="store_true", help="also measure peak memory on a synthetic large .eval")
    parser.add_argument("--big-only", action="store_true", help="only the large-log memory measurement")
    parser.add_argument("--big-mb", type=int, default=1024, help="size of the synthetic large .eval in MB")
    parser.add_argument(
        "--json-mb", type=int, default=0, help="also compare orjson and ijson on a synthetic .json log of this many MB"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--agentic-copies", type=int, default=60,
        help="copies of each agentic corpus sample (one that called tools) in the agentic replica (0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--contention", action="store_true",
        help="also time the parsing in one process and in two at once (what two cores give together)",
    )  # fmt: skip
    parser.add_argument("--serial", action="store_true", help="also time the import in one process (--workers 1)")
    args = parser.parse_args()

    figures: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
    }
    tmp = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    try:
        if not args.big_only:
            files = sorted(args.corpus.glob("*.eval"))
            if not files:
                raise SystemExit(f"no .eval files in {args.corpus}")
            replica = tmp / "synthetic-replica.eval"
            figures["replica_samples"] = make_replicated_eval(files, replica, args.copies)
            figures["corpus"] = bench_speed(files, args.repeat, tmp)
            figures["corpus_plus_replica"] = bench_speed([*files, replica], args.repeat, tmp)
            if args.agentic_copies:
                agentic = tmp / "synthetic-agentic.eval"
                copies = args.agentic_copies
                figures["agentic_samples"] = make_replicated_eval(files, agentic, copies, agentic_only=True)
                figures["agentic_replica"] = bench_speed([agentic], args.repeat, tmp)
            if args.contention:
                figures["contention"] = bench_contention(replica)
            if args.serial:
                figures["corpus_serial"] = bench_speed(files, args.repeat, tmp, workers=1)
                figures["corpus_plus_replica_serial"] = bench_speed([*files, replica], args.repeat, tmp, workers=1)
                if args.agentic_copies:
                    figures["agentic_replica_serial"] = bench_speed([agentic], args.repeat, tmp, workers=1)
        if args.big or args.big_only:
            figures["big"] = bench_big(tmp, args.big_mb)
        if args.json_mb:
            figures["json_log"] = bench_json(tmp, args.json_mb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    print(f"machine: {figures['machine']['cpus']} cpus, Python {figures['machine']['python']}, "
          f"load average {', '.join(f'{x:.2f}' for x in figures['machine']['load_avg'])}")  # fmt: skip
    keys = ("corpus", "corpus_plus_replica", "agentic_replica")
    for key in (*keys, *(f"{k}_serial" for k in keys)):
        if key in figures:
            f = figures[key]
            print(f"\n{key}: {f['files']} .eval files, {f['size_mb']} MB, {f['runs']} runs, "
                  f"{f['workers']} parser processes")  # fmt: skip
            print(
                f"  triage import        {f['import_s']:8.3f} s  {f['runs_per_s']:>7} runs/s  {f['mb_per_s']:>6} MB/s"
            )
            print(f"  inspect read_eval_log{f['inspect_read_s']:8.3f} s")
            print(f"  bare zip + orjson    {f['bare_zip_orjson_s']:8.3f} s")
            print(f"  import vs Inspect: {f['speedup_vs_inspect']}x faster (bar >= 6x); vs the bare single-core "
                  f"parse: {f['speedup_vs_bare']}x (bar > 1x); "
                  f"bare parse vs Inspect: {f['bare_vs_inspect']}x")  # fmt: skip
            m = f["median_round"]
            print(f"  median of the rounds' ratios: vs Inspect {m['speedup_vs_inspect']}x, "
                  f"vs the bare parse {m['speedup_vs_bare']}x")  # fmt: skip
            c = f["cpu"]
            print(f"  CPU time: import {c['import_s']} s, Inspect {c['inspect_read_s']} s, bare {c['bare_s']} s: "
                  f"import {c['speedup_vs_inspect']}x faster, bare {c['bare_vs_inspect']}x")  # fmt: skip
    if "contention" in figures:
        c = figures["contention"]
        print(f"\nparsing the replica's samples (no SQLite), CPU seconds: one process alone {c['alone_cpu_s']} s, "
              f"two at once {c['pair_cpu_s']} s each: two cores give {c['two_cores_vs_one']}x one")  # fmt: skip
    if "big" in figures:
        b = figures["big"]
        print(f"\nsynthetic large .eval: {b['file_mb']} MB ({b['uncompressed_json_mb']} MB of sample JSON), "
              f"{b['samples']} samples, generated in {b['generate_s']} s")  # fmt: skip
        print(f"  import {b['import_s']} s ({b['cpu_s']} s CPU), {b['runs_per_s']} runs/s, {b['mb_per_s']} MB/s, "
              f"{b['errors']} errors, workspace {b['db_mb']} MB")  # fmt: skip
        print(f"  peak memory (ru_maxrss of the importing process): {b['peak_rss_mb']} MB, of the largest parser "
              f"process: {b['worker_peak_rss_mb']} MB (bar < 500 MB)")  # fmt: skip
    if "json_log" in figures:
        j = figures["json_log"]
        print(f"\nsynthetic .json log: {j['file_mb']} MB, {j['samples']} samples")
        for mode in ("orjson_whole", "ijson_stream"):
            m = j[mode]
            print(f"  {mode:13} {m['import_s']:6} s ({m['cpu_s']} s CPU)  {m['mb_per_s']:6} MB/s  "
                  f"peak {m['peak_rss_mb']} MB  "
                  f"({m['runs']} runs, {m['errors']} errors)")  # fmt: skip


if __name__ == "__main__":
    main()
