"""Benchmark of cptkb: prints figures and ratios; asserts nothing.

    python bench/bench.py [--rounds N] [--cli-runs N]

Measures, over the valid encounters of the project's case corpus:
- engine load time (parse, provenance twins, reference data);
- warm single-encounter evaluation (Engine.evaluate), median and 90th percentile,
  without and with the trace: evaluated bottom-up by the reasoner (the default,
  reasoner/bottomup.py) and, in the same rounds, grounded by clingo
  (Engine(bottom_up=False)), with the grounded one's rule selection cache also
  emptied before each;
- warm single-encounter explanation: evaluation with the trace plus the text
  justification, or plus the trace graph in node-link form;
- batch evaluation (Engine.evaluate_many, its batches pipelined: one grounded while the one
  before is read back) per encounter, without and with the trace, and the trace/no-trace ratio
  (runs in alternating order, the median ratio of neighbouring pairs, at least six); over the
  corpus again and again, then over generated encounters (bench/generate.py) each evaluated once,
  400 a run and (four pairs) 2000 a run, dates of service over 2012-2026, and (four pairs) 2000 a
  run dated in the last six months, as a stream of claims is;
- `cptkb evaluate` end to end as a new process, median;
- a calibration figure (a fixed Python loop) and resident memory after the runs.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cptkb.reasoner.cases import load_cases
from cptkb.reasoner.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


def corpus() -> list[dict]:
    encounters = []
    for path in sorted((ROOT / "tests" / "cases").glob("*.json")):
        for case in load_cases(path):
            if "error" not in case.expect and not case.switches:
                encounters.append(case.encounter)
    return encounters


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def alternating_batches(
    engine: Engine, pairs: int, encounters: Callable[[int, bool], list[dict]]
) -> tuple[dict[bool, list[float]], list[float]]:
    """Batch evaluation (Engine.evaluate_many) without and with the trace in alternating order
    (ABBA ...), so that the machine's drift between runs falls on both sides of the ratio: the
    seconds per encounter of each run by trace, and the ratio of each pair of neighbouring runs.
    ``encounters(i, trace)`` gives the encounters of pair i's run (made before it is timed)."""
    per: dict[bool, list[float]] = {False: [], True: []}
    ratios = []
    for i in range(pairs):
        this_pair: dict[bool, float] = {}
        for trace in (False, True) if i % 2 == 0 else (True, False):
            batch = encounters(i, trace)
            t = time.perf_counter()
            for _r in engine.evaluate_many(batch, trace=trace):
                pass
            this_pair[trace] = (time.perf_counter() - t) / len(batch)
            per[trace].append(this_pair[trace])
        ratios.append(this_pair[True] / this_pair[False])
    return per, ratios


def report_batches(per: dict[bool, list[float]], ratios: list[float], what: str, runs: str, label: str, pairs: str) -> None:
    """Print what :func:`alternating_batches` measured: the median time per encounter without and
    with the trace, and the median ratio with the ratio of each pair."""
    for trace in (False, True):
        median = statistics.median(per[trace])
        print(f"batch evaluation{' with trace' if trace else ''}{what}: {median * 1000:.3f} ms per encounter{runs}")
    print(
        f"{label}, trace / no trace: {statistics.median(ratios):.2f}x (median of {len(ratios)} {pairs}:"
        f" {', '.join(f'{r:.2f}' for r in ratios)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cli-runs", type=int, default=7)
    args = parser.parse_args()

    t = time.perf_counter()
    engine = Engine()
    load = time.perf_counter() - t
    grounding = Engine(bottom_up=False)
    encs = corpus()
    print(f"corpus: {len(encs)} valid encounters; machine: {sys.platform}, python {sys.version.split()[0]}")
    print(f"engine load: {load * 1000:.0f} ms")

    for enc in encs:  # warm the compiled rules and the selection caches
        for e in (engine, grounding):
            e.evaluate(enc)
            e.evaluate(enc, trace=True)

    single: dict[tuple[str, bool], list[float]] = {}
    rounds: list[float] = []
    for _ in range(args.rounds):
        for kind, e in (("bottom-up", engine), ("grounded", grounding)):
            for trace in (False, True):
                this_round = []
                for enc in encs:
                    t = time.perf_counter()
                    e.evaluate(enc, trace=trace)
                    this_round.append(time.perf_counter() - t)
                single.setdefault((kind, trace), []).extend(this_round)
                if not trace and kind == "bottom-up":
                    rounds.append(statistics.median(this_round))
    for kind in ("bottom-up", "grounded"):
        for trace in (False, True):
            v = single[(kind, trace)]
            label = "" if kind == "bottom-up" else ", grounded by clingo"
            print(
                f"warm single evaluation{' with trace' if trace else ''}{label}: median {statistics.median(v) * 1000:.2f} ms,"
                f" p90 {pct(v, 0.9) * 1000:.2f} ms, n={len(v)}"
            )
    print("warm single evaluation, median of each round: " + ", ".join(f"{r * 1000:.2f}" for r in rounds) + " ms")
    for kind in ("bottom-up", "grounded"):
        ratio_single = statistics.median(single[(kind, True)]) / statistics.median(single[(kind, False)])
        print(f"single evaluation ({kind}), trace / no trace: {ratio_single:.2f}x")
    for trace in (False, True):
        ratio = statistics.median(single[("grounded", trace)]) / statistics.median(single[("bottom-up", trace)])
        print(f"single evaluation{' with trace' if trace else ''}, grounded / bottom-up: {ratio:.2f}x")

    # Grounded, the rule selection is cached by the encounter's input predicates and the
    # guards its facts meet (reasoner/guards.py); an encounter unlike any seen
    # before pays for its selection.
    fresh = []
    for enc in encs:
        grounding.program._cache.clear()
        t = time.perf_counter()
        grounding.evaluate(enc)
        fresh.append(time.perf_counter() - t)
    print(f"warm single evaluation, grounded, rule selection not cached: median {statistics.median(fresh) * 1000:.2f} ms")
    del grounding

    from cptkb.explain.graph import build_graph, node_link
    from cptkb.explain.text import render_text

    # Each kind in its own loop: the graph's many short-lived objects would
    # otherwise set off the garbage collector during the text's evaluations.
    explained: dict[str, list[float]] = {"text": [], "graph": []}
    for _ in range(max(1, args.rounds // 2)):
        for enc in encs:
            t = time.perf_counter()
            render_text(engine.evaluate(enc, trace=True), engine.vocab)
            explained["text"].append(time.perf_counter() - t)
        for enc in encs:
            t = time.perf_counter()
            node_link(build_graph(engine.evaluate(enc, trace=True), engine.vocab))
            explained["graph"].append(time.perf_counter() - t)
    for kind, label in (("text", "text justification"), ("graph", "trace graph (node-link)")):
        v = explained[kind]
        print(f"warm single explanation, evaluation + {label}: median {statistics.median(v) * 1000:.2f} ms, p90 {pct(v, 0.9) * 1000:.2f} ms")

    # Without and with the trace in alternating order (ABBA ...), so that the
    # machine's drift between runs falls on both sides of the ratio; each
    # pair of neighbouring runs gives a ratio, and their median is printed.
    big = encs * 4
    # at least six pairs: on a shared machine two pairs gave ratios 0.3x apart
    pairs = max(6, args.rounds + 1)
    report_batches(
        *alternating_batches(engine, pairs, lambda i, trace: big), "", f" ({len(big)} per run)", "batch", "neighbouring pairs"
    )

    # The same on generated encounters (bench/generate.py), each evaluated once: a record the
    # reasoner rebuilt for an encounter before is kept (Engine._batch_atoms), so the corpus run
    # over and over above is the cheap case; a stream of new encounters is the usual one.
    from generate import generate  # noqa: PLC0415

    report_batches(
        *alternating_batches(engine, pairs, lambda i, trace: list(generate(400, seed=1000 + 2 * i + int(trace)))),
        ", generated encounters each seen once",
        " (400 per run: two batches)",
        "batch on generated encounters",
        "pairs",
    )
    # A long stream: two batches a run are mostly the pipeline filling and emptying (the first
    # batch grounded with nothing to read beside it, the last read with nothing grounded beside
    # it); ten come nearer to a claims stream, and to what the collector costs over time.
    report_batches(
        *alternating_batches(engine, 4, lambda i, trace: list(generate(2000, seed=2000 + 2 * i + int(trace)))),
        ", generated encounters each seen once",
        " (2000 per run: ten batches)",
        "batch on a long stream of generated encounters",
        "pairs",
    )
    # The same long stream with the dates of service of a stream of claims (the last six months,
    # generate's ``recent``): the derivations that read the date (the codes in force on it, the
    # coverage lists and edit tables that apply) recur, as they do in a claims stream.
    report_batches(
        *alternating_batches(engine, 4, lambda i, trace: list(generate(2000, seed=3000 + 2 * i + int(trace), recent=183))),
        ", generated claims of the last six months each seen once",
        " (2000 per run: ten batches)",
        "batch on a long stream of recent claims",
        "pairs",
    )

    example = ROOT / "examples" / "encounter.json"
    cli = []
    for _ in range(args.cli_runs):
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "cptkb", "evaluate", str(example)], capture_output=True, text=True, check=False
        )
        cli.append(time.perf_counter() - t)
        if proc.returncode != 0:
            print("cptkb evaluate failed:", proc.stderr)
            break
    print(f"cptkb evaluate end to end: median {statistics.median(cli) * 1000:.0f} ms, n={len(cli)}")

    # The machine's speed at the time (a fixed pure-Python loop), to compare
    # figures taken at different times on a shared machine.
    t = time.perf_counter()
    x = 0
    for i in range(3_000_000):
        x += i
    print(f"calibration: 3 million additions in a Python loop take {(time.perf_counter() - t) * 1000:.0f} ms")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
