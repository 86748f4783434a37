"""Grounding work counted in instructions, a figure the machine's load does not move. Prints; asserts nothing.

    python bench/instructions.py [--every N | --generated N [--recent DAYS] [--after M]] [--trace off|on|both] [--batch [--stream]] [--whole] [--grounded]

Runs valgrind's callgrind (it must be installed) on this same script in a
child process, once evaluating every N-th valid corpus encounter once and
once evaluating them twice, counting only the instructions executed inside
clingo's ``Control.ground``; the difference divided by the number of
encounters is the grounding work of one warm evaluation. With --whole every
instruction of the process is counted instead (Python included, and the
background thread that prepares controls): the whole work of one warm
evaluation. With --batch the encounters are evaluated as one batch
(``Engine.evaluate_many``) instead of one by one. An encounter evaluated
alone is evaluated bottom-up by the reasoner (reasoner/bottomup.py), which
grounds nothing; with --grounded the engine grounds it with clingo instead
(``Engine(bottom_up=False)``), for comparison. With --generated N the
encounters are N generated ones (bench/generate.py), new ones each time (a new
seed), so that the figure is that of encounters met for the first time, as in a
claims stream, not of the corpus met again; with --recent DAYS their dates of
service fall in the DAYS days up to 2026-10-31, as the dates of a stream of
claims do (generate.py); with --after M both counted runs first evaluate M
other generated encounters the same way, so that the figure is that of an
engine well into a long stream (its kept tables filled), not of a young one.
A batch's results are kept in a list until the last is read, unless with
--stream each is dropped once read, as `cptkb batch` drops each result once it
is written: the garbage collector's full collections, which go over every
object alive, then come less often.
Under callgrind a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import re
import shutil
import subprocess
import sys
import time
from typing import Any
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _fingerprint() -> str:
    """A hash of the code and the knowledge base a count runs (every .py and .lp file of the
    package). Each figure is the difference of two processes' counts; code changed between them
    (the second then loads the knowledge base cold, its cache key changed) gives a figure that
    measures the change, so the parent refuses one whose processes ran different code."""
    import cptkb.explain  # noqa: PLC0415
    import cptkb.kb  # noqa: PLC0415
    import cptkb.reasoner  # noqa: PLC0415

    digest = hashlib.sha256()
    for package in (cptkb.reasoner, cptkb.explain, cptkb.kb):
        root = Path(package.__file__).resolve().parent  # type: ignore[arg-type]
        for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".lp")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _child(
    every: int,
    generated: int,
    repeat: int,
    trace: bool,
    batch: bool,
    whole: bool,
    grounded: bool,
    recent: int = 0,
    after: int = 0,
    stream: bool = False,
) -> None:
    sys.path.insert(0, str(HERE))
    # the results of a batch kept in a list, or each dropped once read
    consume: Any = (lambda results: collections.deque(results, maxlen=0)) if stream else list
    from bench import corpus  # noqa: PLC0415
    from generate import generate  # noqa: PLC0415

    from cptkb.reasoner.engine import Engine  # noqa: PLC0415

    fingerprint = _fingerprint()  # of the code as this process loads it
    engine = Engine(bottom_up=not grounded)
    encounters = corpus()[::every]
    if after:
        earlier = list(generate(after, seed=999, recent=recent))
        if batch:
            consume(engine.evaluate_many(earlier, trace=trace))
        else:
            for enc in earlier:
                engine.evaluate(enc, trace=trace)
    for time_round in range(repeat):
        if generated:
            encounters = list(generate(generated, seed=1000 + time_round, recent=recent))
        if batch:
            consume(engine.evaluate_many(encounters, trace=trace))
        else:
            for enc in encounters:
                if whole and engine._controls._thread is not None:
                    # Wait for the background thread's spare control, so that every evaluation
                    # costs one control made and one freed (an evaluation that finds none makes
                    # one itself, and the spare made later stays: a count that moved with timing).
                    ready = engine._controls._ready
                    while ready.empty():
                        time.sleep(0.001)
                engine.evaluate(enc, trace=trace)
    print(fingerprint, len(encounters))


def _count(
    every: int,
    generated: int,
    repeat: int,
    trace: bool,
    batch: bool,
    whole: bool = False,
    grounded: bool = False,
    recent: int = 0,
    after: int = 0,
    stream: bool = False,
) -> tuple[int, int]:
    args = [sys.executable, __file__, "--child", str(repeat), "--every", str(every), "--trace", "on" if trace else "off"]
    args += ["--generated", str(generated), "--recent", str(recent), "--after", str(after)]
    if batch:
        args.append("--batch")
    if stream:
        args.append("--stream")
    if whole:
        args.append("--whole")
    if grounded:
        args.append("--grounded")
    toggle = [] if whole else ["--toggle-collect=clingo_control_ground"]
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *toggle, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    collected = re.search(r"Collected : (\d+)", proc.stderr)
    if collected is None:
        raise SystemExit(f"callgrind gave no count:\n{proc.stderr[-2000:]}")
    fingerprint, n = proc.stdout.split()[-2:]
    if fingerprint != _FINGERPRINT[0]:
        raise SystemExit("the code or the knowledge base changed while counting (a figure would measure the change): count again")
    return int(collected.group(1)), int(n)


# the fingerprint of the code the parent started with (main)
_FINGERPRINT = [""]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--every", type=int, default=3)
    parser.add_argument("--generated", type=int, default=0, help="N generated encounters, new ones each time, not the corpus")
    parser.add_argument("--recent", type=int, default=0, metavar="DAYS", help="with --generated: dates of service in the DAYS days up to 2026-10-31")
    parser.add_argument("--after", type=int, default=0, metavar="M", help="with --generated: first evaluate M other generated encounters")
    parser.add_argument("--trace", choices=("off", "on", "both"), default="both")
    parser.add_argument("--batch", action="store_true")
    parser.add_argument("--stream", action="store_true", help="with --batch: drop each result once read, as cptkb batch does")
    parser.add_argument("--whole", action="store_true", help="count every instruction, not only those in ground")
    parser.add_argument("--grounded", action="store_true", help="ground an encounter alone with clingo (no bottom-up evaluation)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(
            args.every, args.generated, args.child, args.trace == "on", args.batch, args.whole, args.grounded, args.recent, args.after, args.stream
        )
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: this benchmark counts instructions with callgrind")
    # The loaded knowledge base is cached on disk (reasoner/cache.py) under a key that changes with
    # the code: loaded here first, so that both counted runs read it from the cache, not only the
    # second (the difference would then be negative).
    from cptkb.reasoner.engine import Engine  # noqa: PLC0415

    _FINGERPRINT[0] = _fingerprint()
    Engine()
    figures = {}
    for trace in {"off": [False], "on": [True], "both": [False, True]}[args.trace]:
        counted = (args.every, args.generated)
        rest = (trace, args.batch, args.whole, args.grounded, args.recent, args.after, args.stream)
        once, n = _count(*counted, 1, *rest)
        twice, _ = _count(*counted, 2, *rest)
        figures[trace] = (twice - once) / n
        mode = "batch" if args.batch else "single (grounded)" if args.grounded else "single"
        where = "in all" if args.whole else "in ground"
        what = "new generated encounters" if args.generated else "encounters"
        if args.generated and args.recent:
            what += f" dated in the last {args.recent} days"
        if args.generated and args.after:
            what += f", after {args.after + n} others"
        if args.stream:
            what += ", each result dropped once read"
        print(f"{mode} evaluation{' with trace' if trace else ''}: {figures[trace] / 1e6:.2f} M instructions {where} per encounter ({n} {what})")
    if len(figures) == 2:
        print(f"trace / no trace: {figures[True] / figures[False]:.2f}x")


if __name__ == "__main__":
    main()
