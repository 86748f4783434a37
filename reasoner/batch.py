"""Batch evaluation of JSON Lines: streamed, chunked, optionally over worker processes.

One encounter per input line; one output line per input line, in input
order. A line that is not an encounter (not UTF-8, not JSON, not valid by the
contract, or empty) gets an error record in its place and the batch goes on.
The input is read and the output written a chunk at a time, so memory stays
bounded whatever the input's size.

Each chunk is grounded in one control (:meth:`Engine.solve`). With
``workers`` > 1 the chunks go to worker processes, each with its own engine,
a bounded number in flight; the output is written in input order and is
byte-identical to a run in one process, because every chunk is evaluated the
same way wherever it runs.
"""

from __future__ import annotations

import gc
import gzip
import io
import json
import multiprocessing
import os
import sys
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, TextIO
from collections.abc import Iterator, Mapping

from .engine import Engine
from .errors import InvalidEncounter, KnowledgeBaseFault
from .validate import Encounter

CHUNK = 200
RECYCLE = 250  # chunks a worker process evaluates before it is replaced
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class BatchStats:
    """What a batch run did: lines read, encounters evaluated, error records written, seconds taken."""

    lines: int = 0
    evaluated: int = 0
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (
            f"cptkb batch: {self.lines:,} lines: {self.evaluated:,} evaluated,"
            f" {self.errors:,} error record{'' if self.errors == 1 else 's'};"
            f" {self.seconds:.1f} s, {self.rate:,.0f} encounters/s"
        )


def _error_record(line_no: int, exc: InvalidEncounter | KnowledgeBaseFault, ident: Any = None) -> str:
    record: dict[str, Any]
    if isinstance(exc, InvalidEncounter):
        record = {"error": {"field": exc.field, "message": str(exc)}}
    else:
        record = {"fault": {"message": str(exc)}}
    if isinstance(ident, str):
        record["id"] = ident
    record["line"] = line_no
    return json.dumps(record, ensure_ascii=False)


class ChunkEvaluator:
    """Turns a chunk of input lines into their output lines with one engine."""

    def __init__(
        self,
        engine: Engine,
        switches: Mapping[str, bool] | None = None,
        explain: bool = False,
        skip_empty: bool = False,
    ) -> None:
        self.engine = engine
        self.switches = dict(switches or {})
        self.explain = explain
        self.skip_empty = skip_empty

    def _parse(self, line_no: int, raw: bytes) -> tuple[Encounter | None, str | None, Any]:
        """(encounter, None, id) for a valid line, (None, error record, id) otherwise; (None, None, None) to skip."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            where = f"line {line_no}"
            bad = InvalidEncounter(where, raw[max(0, exc.start - 10) : exc.start + 10].decode("utf-8", "replace"), "UTF-8 text", problem="not UTF-8 near")
            return None, _error_record(line_no, bad), None
        if not text.strip():
            if self.skip_empty:
                return None, None, None
            empty = InvalidEncounter(f"line {line_no}", "", "one encounter object as JSON", problem="empty line")
            return None, _error_record(line_no, empty), None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {line_no}"
            bad = InvalidEncounter(
                where, text[max(0, exc.pos - 20) : exc.pos + 20], f"valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                problem="malformed JSON near",
            )
            return None, _error_record(line_no, bad), None
        ident = data.get("id") if isinstance(data, dict) else None
        try:
            return self.engine.validate(data, self.switches), None, ident
        except InvalidEncounter as exc:
            return None, _error_record(line_no, exc, ident), ident

    def _render(self, enc: Encounter, atoms: Any) -> str:
        from .result import build_result

        result = build_result(enc, atoms, self.engine.vocab)
        text = json.dumps(result.to_dict(), ensure_ascii=False)
        if self.explain:
            from cptkb.explain.graph import node_link_text

            # the same bytes as json.dumps of the result with an "explanation" key added last
            text = f'{text[:-1]}, "explanation": {node_link_text(result, self.engine.vocab)}}}'
        return text

    def run(self, first_line: int, lines: list[bytes]) -> tuple[str, int, int, int]:
        """The output text of ``lines`` (numbered from ``first_line``): (text, lines, evaluated, errors)."""
        return self.finish(self.start(first_line, lines, background=False))

    def start(self, first_line: int, lines: list[bytes], background: bool = True) -> _Chunk:
        """The chunk's lines parsed and validated, and its encounters' grounding started (with
        ``background``, in the engine's grounding thread: the caller goes on meanwhile);
        :meth:`finish` gives its output."""
        chunk = _Chunk(len(lines))
        for offset, raw in enumerate(lines):
            enc, record, _ = self._parse(first_line + offset, raw)
            if enc is not None:
                chunk.valid.append((len(chunk.out), enc, first_line + offset))
                chunk.out.append(None)
            elif record is not None:
                chunk.out.append(record)
                chunk.errors += 1
        if len(chunk.valid) > 1:
            chunk.job = self.engine._start([v[1] for v in chunk.valid], self.explain, background)
        return chunk

    def finish(self, chunk: _Chunk) -> tuple[str, int, int, int]:
        """The output text of a chunk :meth:`start` started: (text, lines, evaluated, errors)."""
        out, valid = chunk.out, chunk.valid
        faults = 0
        if valid:
            encs = [v[1] for v in valid]
            solved: list[Any] | None
            try:
                job, chunk.job = chunk.job, None
                solved = self.engine._finish(job) if job is not None else self.engine.solve(encs, self.explain)
            except KnowledgeBaseFault:
                solved = None
            for i, (slot, enc, line_no) in enumerate(valid):
                if solved is not None:
                    out[slot] = self._render(enc, solved[i])
                    continue
                try:  # one encounter at a time, so that a fault costs only its own line
                    (atoms,) = self.engine.solve([enc], self.explain)
                    out[slot] = self._render(enc, atoms)
                except KnowledgeBaseFault as exc:
                    out[slot] = _error_record(line_no, exc, enc.ident)
                    faults += 1
        text = "".join(f"{line}\n" for line in out)
        # What a chunk leaves behind is caches and acyclic data: keep the cyclic
        # garbage collector from scanning it again after every chunk.
        gc.freeze()
        return text, chunk.lines, len(valid) - faults, chunk.errors + faults

    def discard(self, chunk: _Chunk) -> None:
        """Free a chunk :meth:`start` started and that will not be finished."""
        if chunk.job is not None:
            self.engine._discard(chunk.job)
            chunk.job = None


@dataclass
class _Chunk:
    """A chunk of input lines started: its output lines so far (None where a result goes), its
    valid encounters (output slot, encounter, line number), its error count and its batch."""

    lines: int
    out: list[str | None] = field(default_factory=list)
    valid: list[tuple[int, Encounter, int]] = field(default_factory=list)
    errors: int = 0
    job: Any = None


# --- input and output -------------------------------------------------------------------------


class _Counting(io.RawIOBase):
    """A binary stream that counts the bytes read through it (for the progress bar)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0


def open_input(path: str, stdin: BinaryIO | None = None) -> tuple[IO[bytes], _Counting, int | None]:
    """The input's lines as a binary stream (gzip recognised by its magic bytes), its byte counter and size."""
    if path == "-":
        raw: BinaryIO = stdin if stdin is not None else sys.stdin.buffer
        size = None
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 (closed by the caller through the returned stream)
        except OSError as exc:
            raise InvalidEncounter("IN", path, "a readable JSON Lines file (or .gz), or - for standard input", problem=f"cannot read ({exc.strerror}):") from None
        size = os.fstat(raw.fileno()).st_size
    counting = _Counting(raw)
    buffered = io.BufferedReader(counting, 1 << 16)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb"), counting, size  # type: ignore[return-value]
    return buffered, counting, size


def open_output(path: str | None, stdout: TextIO | None = None) -> tuple[TextIO, bool]:
    """Where the results go (``.gz`` written compressed), and whether the caller must close it."""
    if path is None or path == "-":
        return (stdout if stdout is not None else sys.stdout), False
    try:
        if path.endswith(".gz"):
            return gzip.open(path, "wt", encoding="utf-8", newline="\n"), True  # type: ignore[return-value]
        return open(path, "w", encoding="utf-8", newline="\n"), True  # noqa: SIM115
    except OSError as exc:
        raise InvalidEncounter("-o", path, "a writable file path", problem=f"cannot write ({exc.strerror}):") from None


def read_chunks(stream: IO[bytes], size: int) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the chunk's first line, its lines without line ends), ``size`` lines at a time."""
    line_no = 1
    chunk: list[bytes] = []
    for raw in stream:
        chunk.append(raw.rstrip(b"\r\n"))
        if len(chunk) >= size:
            yield line_no, chunk
            line_no += len(chunk)
            chunk = []
    if chunk:
        yield line_no, chunk


class Progress:
    """A one-line progress display on a terminal: lines done, rate, time left (when the size is known)."""

    def __init__(self, stream: TextIO, counter: _Counting, total_bytes: int | None) -> None:
        self.stream = stream
        self.counter = counter
        self.total = total_bytes
        self.start = time.perf_counter()
        self.last = 0.0

    def update(self, lines: int, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self.last < 0.2:
            return
        self.last = now
        elapsed = now - self.start
        rate = lines / elapsed if elapsed > 0 else 0.0
        text = f"\r{lines:>12,} encounters  {rate:>9,.0f}/s  {_clock(elapsed)} elapsed"
        if self.total:
            done = min(1.0, self.counter.count / self.total)
            left = elapsed * (1 - done) / done if done > 0 else 0.0
            bar = "#" * int(done * 24)
            text += f"  {_clock(left)} left  [{bar:<24}] {done * 100:3.0f}%"
        self.stream.write(text + ("\n" if final else ""))
        self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


# --- running ---------------------------------------------------------------------------------------

_WORKER: ChunkEvaluator | None = None


def _init_worker(kb_dir: str, switches: dict[str, bool], explain: bool, skip_empty: bool) -> None:
    global _WORKER
    _WORKER = ChunkEvaluator(Engine(kb_dir), switches, explain, skip_empty)


def _work(first_line: int, lines: list[bytes]) -> tuple[str, int, int, int]:
    assert _WORKER is not None
    return _WORKER.run(first_line, lines)


def run_batch(
    engine: Engine,
    source: IO[bytes],
    sink: TextIO,
    workers: int = 1,
    switches: Mapping[str, bool] | None = None,
    explain: bool = False,
    chunk: int = CHUNK,
    progress: Progress | None = None,
    skip_empty: bool = False,
) -> BatchStats:
    """Evaluate every line of ``source`` and write one output line per input line to ``sink``."""
    stats = BatchStats()
    start = time.perf_counter()

    def emit(done: tuple[str, int, int, int]) -> None:
        text, n, evaluated, errors = done
        sink.write(text)
        stats.lines += n
        stats.evaluated += evaluated
        stats.errors += errors
        if progress is not None:
            progress.update(stats.lines)

    chunks = read_chunks(source, chunk)
    if workers <= 1:
        # pipelined: a chunk is grounded (in the engine's grounding thread) while the next is read and
        # parsed and the one before is read back and written
        evaluator = ChunkEvaluator(engine, switches, explain, skip_empty)
        started: deque[_Chunk] = deque()
        try:
            for first, lines in chunks:
                started.append(evaluator.start(first, lines))
                if len(started) > 1:
                    emit(evaluator.finish(started.popleft()))
            while started:
                emit(evaluator.finish(started.popleft()))
        finally:
            for left in started:
                evaluator.discard(left)
    else:
        context = multiprocessing.get_context("spawn")
        init = (str(engine.kb_dir), dict(switches or {}), explain, skip_empty)
        # clingo keeps every symbol it has made for the life of a process; a worker is replaced after
        # RECYCLE chunks so that memory stays bounded on a long stream (a new worker starts in about 0.5 s)
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=init, max_tasks_per_child=RECYCLE
        ) as pool:
            pending: deque[Future[tuple[str, int, int, int]]] = deque()
            for first, lines in chunks:
                pending.append(pool.submit(_work, first, lines))
                if len(pending) >= 2 * workers + 2:
                    emit(pending.popleft().result())
            while pending:
                emit(pending.popleft().result())
    sink.flush()
    stats.seconds = time.perf_counter() - start
    if progress is not None:
        progress.update(stats.lines, final=True)
    return stats


def batch_file(
    in_path: str,
    out_path: str | None = None,
    workers: int = 1,
    switches: Mapping[str, bool] | None = None,
    explain: bool = False,
    engine: Engine | None = None,
    show_progress: bool = False,
    chunk: int = CHUNK,
    stdin: BinaryIO | None = None,
    stdout: TextIO | None = None,
) -> BatchStats:
    """Evaluate the JSON Lines file ``in_path`` (``-``: standard input; gzip accepted) into ``out_path``."""
    from .engine import default_engine

    engine = engine or default_engine()
    source, counter, size = open_input(in_path, stdin)
    try:
        sink, close = open_output(out_path, stdout)
        try:
            progress = Progress(sys.stderr, counter, size) if show_progress else None
            return run_batch(engine, source, sink, workers, switches, explain, chunk, progress)
        finally:
            if close:
                sink.close()
    finally:
        if in_path != "-":
            source.close()


__all__ = ["BatchStats", "ChunkEvaluator", "batch_file", "run_batch", "open_input", "open_output", "read_chunks"]
