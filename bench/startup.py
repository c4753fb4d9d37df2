"""Benchmark: start-up time of `triage --help` and `triage info` (bar: under 0.3 s each).

    python bench/startup.py [--runs 20] [--warmup 3]

Runs each command ``--runs`` times in fresh processes (after ``--warmup`` untimed runs, as hyperfine
does) and prints mean ± standard deviation, min and max wall time, then the modules that cost the most
to import (``python -X importtime``), so a regression names its cause. `info` reads a small workspace
made here from the packaged demo dataset's Inspect logs.

triage's bytecode is compiled first (``compileall``), as ``pip install`` does: with ``PYTHONDONTWRITEBYTECODE``
set (as on some CI and sandbox machines) every run would otherwise compile triage's own modules from
source, 50 ms that no installed triage pays.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {"--help": ["--help"], "info": ["info", "--db", "{db}"]}


def timed(argv: list[str], runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        subprocess.run(argv, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def slowest_imports(argv: list[str], top: int = 8) -> list[tuple[float, str]]:
    """Top-level imports by cumulative import time (seconds) of one run under ``-X importtime``."""
    err = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True).stderr
    rows = []
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2]
            if len(name) - len(name.lstrip()) <= 1:  # top level
                rows.append((int(parts[1]) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    compileall.compile_dir(ROOT / "triage", quiet=1)
    tmp = Path(tempfile.mkdtemp(prefix="triage-startup-"))
    try:
        db = tmp / "ws.db"
        demo_logs = sorted((ROOT / "triage" / "demo" / "data").rglob("*.eval"))[:2]
        subprocess.run([sys.executable, "-m", "triage", "import", *map(str, demo_logs), "--db", str(db)],
                       capture_output=True, check=True, cwd=ROOT)  # fmt: skip
        print(f"machine: {os.cpu_count()} cpus, Python {platform.python_version()}, "
              f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        for name, command in COMMANDS.items():
            args_ = [a.format(db=db) for a in command]
            # The console script, as users start it (python -m triage adds runpy and the package's __main__).
            script = Path(sys.executable).parent / "triage"
            argv = [str(script), *args_] if script.exists() else [sys.executable, "-m", "triage", *args_]
            times = timed(argv, args.runs, args.warmup)
            print(f"\ntriage {name}: {statistics.mean(times):.3f} s ± {statistics.stdev(times):.3f} "
                  f"(min {min(times):.3f}, max {max(times):.3f}, {args.runs} runs; bar < 0.3 s)")  # fmt: skip
            for seconds, module in slowest_imports(["-m", "triage", *args_]):
                print(f"  import {module:40} {seconds:.3f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
