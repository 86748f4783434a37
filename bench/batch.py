"""Batch benchmark: cptkb batch against a fresh clingo control per encounter. Prints figures; asserts nothing.

    python bench/batch.py [--count N] [--naive N] [--large N] [--seed S] [--trace both|off|on]

Generates realistic encounters with a fixed seed (bench/generate.py) and measures, in one run:

  (a) naive: a fresh clingo.Control per encounter with the same knowledge base
      (all its rules and reference data parsed, the encounter's facts added,
      grounded, solved, the result built and written as JSON), on the first
      --naive encounters;
  (b) `cptkb batch` in one process;
  (c) `cptkb batch --workers 2`;

each without and with the trace (--explain: the trace graph written with every
result). For each it prints encounters per second, milliseconds per
encounter and the peak resident memory of the process and its workers; then
the ratios (b)/(a) and (c)/(b); it checks that (a) and (b) give the same
results line for line, and that (b) and (c) write byte-identical output.
--large N runs (b) once more over N encounters (gzip-compressed input) for
the peak memory of a long stream.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import clingo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate  # noqa: E402

from cptkb.explain.graph import build_graph, node_link  # noqa: E402
from cptkb.reasoner import terms  # noqa: E402
from cptkb.reasoner.engine import Engine  # noqa: E402
from cptkb.reasoner.loader import ENCOUNTER  # noqa: E402
from cptkb.reasoner.result import build_result  # noqa: E402


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (Linux /proc)."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            with open(f"/proc/{p}/task/{p}/children") as f:
                stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def run_command(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MiB (process tree, sampled every 20 ms) of a command."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {err.decode()}")
    return seconds, peak / 1024


def naive(engine: Engine, lines: list[str], trace: bool) -> tuple[float, list[str]]:
    """(a): parse the whole knowledge base into a fresh control for every encounter."""
    loaded = engine.program
    program = loaded.select(frozenset(loaded.dynamic), trace, text=True) + "\n" + "\n".join(loaded.keyed.values())
    # with the trace the fact rules are grounded as written, their derivations given by the reasoner
    by_fact = engine._by_fact.chosen(loaded.marked_chosen(frozenset(loaded.dynamic), trace)) if trace else None
    # and the aggregate members it leaves out, worked out by the reasoner (none: every predicate is an input here)
    counting = loaded.counting(frozenset(loaded.dynamic), trace) if trace else None
    out = []
    start = time.perf_counter()
    for line in lines:
        enc = engine.validate(json.loads(line))
        ctl = clingo.Control(["--warn=none"])
        ctl.add("base", [], program)
        with ctl.backend() as backend:
            k = clingo.Number(0)
            backend.add_rule([backend.add_atom(clingo.Function(ENCOUNTER, [k]))])
            for name, args in enc.facts:
                backend.add_rule([backend.add_atom(clingo.Function(name, [k, *args]))])
        ctl.ground([("base", [])])
        with ctl.solve(yield_=True) as handle:
            (values,) = [terms.shown_values(m) for m in handle]
        (atoms,) = engine._batch_atoms(values, [enc.facts], by_fact, list(loaded.keyed), counting)
        result = build_result(enc, atoms, engine.vocab)
        data = result.to_dict()
        if trace:
            data["explanation"] = node_link(build_graph(result, engine.vocab))
        out.append(json.dumps(data, ensure_ascii=False))
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description="cptkb batch benchmark")
    parser.add_argument("--count", type=int, default=20000, help="encounters for (b) and (c) (default 20000)")
    parser.add_argument("--naive", type=int, default=500, help="encounters for (a) (default 500)")
    parser.add_argument("--large", type=int, default=0, help="also stream N encounters through (b) for peak memory")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--trace", choices=("both", "off", "on"), default="both", help="run without the trace, with it, or both (default)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cptkb-bench-"))
    source = work / "encounters.jsonl"
    with source.open("w") as f:
        for enc in generate(args.count, args.seed):
            f.write(json.dumps(enc, separators=(",", ":")) + "\n")
    lines = source.read_text().splitlines()
    print(f"{args.count:,} generated encounters (seed {args.seed}), {os.cpu_count()} cores, python {sys.version.split()[0]}, clingo {clingo.__version__}")

    engine = Engine()
    cptkb = [sys.executable, "-m", "cptkb"]
    rows: dict[str, tuple[float, float | None]] = {}
    outputs: dict[str, Path] = {}
    traces = {"both": (False, True), "off": (False,), "on": (True,)}[args.trace]
    for trace in traces:
        tag = " +trace" if trace else ""
        seconds, naive_out = naive(engine, lines[: args.naive], trace)
        rows[f"(a) fresh control per encounter{tag}"] = (args.naive / seconds, None)
        for workers in (1, 2):
            out = work / f"out-{workers}-{int(trace)}.jsonl"
            command = [*cptkb, "batch", str(source), "-o", str(out), "--quiet", "--workers", str(workers)]
            if trace:
                command.append("--explain")
            seconds, peak = run_command(command)
            label = "(b) cptkb batch" if workers == 1 else "(c) cptkb batch --workers 2"
            rows[f"{label}{tag}"] = (args.count / seconds, peak)
            outputs[f"{workers}{tag}"] = out
        batch_lines = outputs[f"1{tag}"].read_text().splitlines()[: args.naive]
        same = batch_lines == naive_out
        print(f"(a) and (b){tag}: {'identical results' if same else 'RESULTS DIFFER'} on {args.naive} encounters")
        identical = outputs[f"1{tag}"].read_bytes() == outputs[f"2{tag}"].read_bytes()
        print(f"(b) and (c){tag}: output {'byte-identical' if identical else 'DIFFERS'} ({args.count:,} lines)")

    print()
    print(f"{'mode':<42} {'enc/s':>9} {'ms/enc':>8} {'peak MiB':>9}")
    for label, (rate, peak) in rows.items():
        peak_text = f"{peak:9.0f}" if peak is not None else f"{'-':>9}"
        print(f"{label:<42} {rate:9,.0f} {1000 / rate:8.3f} {peak_text}")
    print()
    for tag in [" +trace" if t else "" for t in traces]:
        a = rows[f"(a) fresh control per encounter{tag}"][0]
        b = rows[f"(b) cptkb batch{tag}"][0]
        c = rows[f"(c) cptkb batch --workers 2{tag}"][0]
        print(f"ratio (b)/(a){tag}: {b / a:5.1f}x    ratio (c)/(b){tag}: {c / b:4.2f}x")
    if len(traces) == 2:
        b_plain = rows["(b) cptkb batch"][0]
        b_trace = rows["(b) cptkb batch +trace"][0]
        print(f"trace cost in batch, (b) +trace time / (b) time: {b_plain / b_trace:4.2f}x")

    if args.large:
        big = work / "large.jsonl.gz"
        with gzip.open(big, "wt") as f:
            for enc in generate(args.large, args.seed + 1):
                f.write(json.dumps(enc, separators=(",", ":")) + "\n")
        seconds, peak = run_command([*cptkb, "batch", str(big), "-o", os.devnull, "--quiet"])
        print(f"\n{args.large:,} encounters streamed (gzip in), one process: {args.large / seconds:,.0f} enc/s, peak {peak:.0f} MiB")
    for p in work.iterdir():
        p.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
