"""cptkb batch: one output line per input line, in order, whatever the line holds; gzip; workers; trace.

Source: cptkb encounter contract v1 (result shape, error records); docs/contract.md, "cptkb batch".
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pytest

from cptkb.explain.graph import build_graph, node_link
from cptkb.reasoner.batch import ChunkEvaluator, batch_file
from cptkb.reasoner.engine import Engine
from test_cli import run
from test_verify import planted

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from generate import generate  # noqa: E402

GOOD = {"id": "a", "date_of_service": "2024-05-01", "nerve_conduction": [{"nerve": "median", "side": "left", "study": "motor"}]}
NCS_ONE = [{"code": "95907", "units": 1, "modifiers": []}]


def jsonl(items: list[object]) -> str:
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


def test_every_line_gets_one_line_in_order() -> None:
    """A valid line gives its result; an invalid encounter, malformed JSON and an empty line give error records
    with their line numbers; the batch goes on; exit 0 and a summary on standard error."""
    lines = [GOOD, {"id": "b", "date_of_service": "2024-13-01"}, "{not json", "", {**GOOD, "id": "c"}, [1, 2]]
    code, out, err = run(["batch", "-"], jsonl(lines))
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 6
    assert {k: records[0][k] for k in ("id", "date_of_service", "kb_version", "codes")} == {
        "id": "a", "date_of_service": "2024-05-01", "kb_version": "2026.1", "codes": NCS_ONE
    }
    assert [f["rule"] for f in records[0]["findings"]] == ["necessity.no_support", "doc.ncs_data"] + ["ncci.no_data"] * 3
    assert [(c["table"], c["status"]) for c in records[0]["checks"]] == [("aoc", "no_data"), ("mue", "no_data"), ("ptp", "no_data")]
    assert records[1]["id"] == "b" and records[1]["line"] == 2
    assert records[1]["error"]["field"] == "date_of_service" and '"2024-13-01"' in records[1]["error"]["message"]
    assert records[2] == {
        "error": {
            "field": "line 3",
            "message": 'line 3: malformed JSON near "{not json"; expected valid JSON (Expecting property name enclosed in double quotes at line 1 column 2)',
        },
        "line": 3,
    }
    assert records[3] == {"error": {"field": "line 4", "message": 'line 4: empty line ""; expected one encounter object as JSON'}, "line": 4}
    assert records[4]["id"] == "c" and records[4]["codes"] == NCS_ONE
    assert records[5]["line"] == 6 and records[5]["error"]["field"] == "encounter"
    assert err == "cptkb batch: 6 lines: 2 evaluated, 4 error records;" + err.split(";", 1)[1]
    assert err.endswith(" encounters/s\n")


def test_not_utf8_line_is_an_error_record(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(json.dumps(GOOD).encode() + b"\n" + b'{"id": "\xff\xfe"}\n' + json.dumps(GOOD).encode() + b"\n")
    out = tmp_path / "out.jsonl"
    stats = batch_file(str(src), str(out))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert (stats.lines, stats.evaluated, stats.errors) == (3, 2, 1)
    assert records[1]["line"] == 2 and records[1]["error"]["field"] == "line 2"
    assert "not UTF-8" in records[1]["error"]["message"] and "expected UTF-8 text" in records[1]["error"]["message"]
    assert records[0]["codes"] == records[2]["codes"] == NCS_ONE


def test_gzip_in_and_out(tmp_path: Path) -> None:
    """A gzip-compressed input is recognised by its content; -o FILE.gz writes compressed output."""
    encounters = list(generate(40, seed=7))
    plain = tmp_path / "in.jsonl"
    plain.write_text(jsonl(encounters))
    packed = tmp_path / "in.data"  # no .gz suffix: recognised by the magic bytes
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    code, out, err = run(["batch", str(plain), "--quiet"])
    assert code == 0 and err == ""
    code2, out2, _ = run(["batch", str(packed), "-o", str(tmp_path / "out.jsonl.gz"), "--quiet"])
    assert code2 == 0 and out2 == ""
    assert gzip.decompress((tmp_path / "out.jsonl.gz").read_bytes()).decode() == out
    assert len(out.splitlines()) == 40


def test_batch_results_equal_single_evaluations(engine: Engine, valid_cases: list) -> None:
    """Each line of a batch (chunks of 50) is byte for byte the single evaluation's result (corpus cases)."""
    encounters = [c.encounter for c in valid_cases if not c.switches]
    sink = io.StringIO()
    from cptkb.reasoner.batch import run_batch

    stats = run_batch(engine, io.BytesIO(jsonl(encounters).encode()), sink, chunk=50)
    assert stats.evaluated == len(encounters) and stats.errors == 0
    expected = [json.dumps(engine.evaluate(e).to_dict(), ensure_ascii=False) for e in encounters]
    assert sink.getvalue().splitlines() == expected


def test_explain_writes_the_trace_graph(engine: Engine) -> None:
    """--explain: each result carries the same explanation as evaluate --explain (node-link trace graph)."""
    encounters = list(generate(12, seed=3))
    code, out, _ = run(["batch", "-", "--explain", "--quiet"], jsonl(encounters))
    assert code == 0
    for line, enc in zip(out.splitlines(), encounters, strict=True):
        data = json.loads(line)
        result = engine.evaluate(enc, trace=True)
        assert data == {**result.to_dict(), "explanation": node_link(build_graph(result, engine.vocab))}


def test_two_workers_write_the_same_bytes(tmp_path: Path) -> None:
    """--workers 2 gives byte-identical output to one process, and so does a second run."""
    src = tmp_path / "in.jsonl"
    src.write_text(jsonl([*generate(300, seed=11), "{broken", GOOD]))
    outs = []
    for workers in ("1", "2", "1"):
        out = tmp_path / f"out{len(outs)}.jsonl"
        code, _, err = run(["batch", str(src), "-o", str(out), "--workers", workers, "--chunk", "40"])
        assert code == 0, err
        assert "302 lines: 301 evaluated, 1 error record;" in err
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]
    assert len(outs[0].splitlines()) == 302


def test_a_fault_costs_only_its_own_line(tmp_path: Path) -> None:
    """A knowledge-base fault for one encounter gives a fault record for that line; the chunk's others are evaluated."""
    kb = planted(tmp_path, "codes.lp", 'kb_fault("planted fault", X) :- enc_diagnosis(X), X = "Z9999".')
    evaluator = ChunkEvaluator(Engine(kb))
    faulty = {**GOOD, "id": "f", "diagnoses": ["Z99.99"]}
    text, n, evaluated, errors = evaluator.run(1, [json.dumps(x).encode() for x in (GOOD, faulty, GOOD)])
    records = [json.loads(line) for line in text.splitlines()]
    assert (n, evaluated, errors) == (3, 2, 1)
    assert records[0]["codes"] == records[2]["codes"] == NCS_ONE
    assert records[1]["id"] == "f" and records[1]["line"] == 2 and "planted fault" in records[1]["fault"]["message"]


@pytest.mark.parametrize(
    "args,field",
    [
        (["batch", "no/such/file.jsonl"], "IN"),
        (["batch", "-", "--workers", "0"], "--workers"),
        (["batch", "-", "--chunk", "0"], "--chunk"),
        (["batch", "-", "-o", "no/such/dir/out.jsonl"], "-o"),
    ],
)
def test_bad_arguments_exit_2(args: list[str], field: str) -> None:
    code, out, err = run(args, jsonl([GOOD]))
    assert code == 2 and out == ""
    assert err.startswith(f"cptkb: invalid input: {field}: ")


@pytest.mark.parametrize("trace", [False, True])
def test_benchmark_naive_path_agrees_with_batch(engine: Engine, trace: bool) -> None:
    """bench/batch.py's (a), a fresh control holding the whole knowledge base per encounter, writes the
    same lines as `cptkb batch` (with --explain: the trace graph too), so that the benchmark's
    comparison of (a) and (b) measures like against like."""
    from batch import naive  # bench/batch.py

    from cptkb.reasoner.batch import run_batch

    lines = [json.dumps(e) for e in generate(12, seed=4)]
    _, expected = naive(engine, lines, trace)
    sink = io.StringIO()
    run_batch(engine, io.BytesIO(jsonl(lines).encode()), sink, explain=trace, chunk=5)
    assert sink.getvalue().splitlines() == expected


def test_one_process_pipelines_its_chunks_and_a_fault_costs_only_its_line(tmp_path: Path, monkeypatch) -> None:
    """In one process a chunk is grounded while the one before is read back and written (docs/contract.md,
    "cptkb batch"): the output is the chunks' evaluated one by one, a fault in a pipelined chunk costs only
    its own line, and each chunk's control is freed once."""
    from cptkb.reasoner.batch import run_batch

    kb = planted(tmp_path, "codes.lp", 'kb_fault("planted fault", X) :- enc_diagnosis(X), X = "Z9999".')
    engine = Engine(kb)
    faulty = {**GOOD, "id": "f", "diagnoses": ["Z99.99"]}
    items = [GOOD, faulty, GOOD, "{broken"] * 3
    returned: list[object] = []
    give_back = engine._controls.give_back
    monkeypatch.setattr(engine._controls, "give_back", lambda ctl, spare=True: (returned.append(ctl), give_back(ctl, spare)))
    calls: list[str] = []
    for step in ("start", "finish"):
        method = getattr(ChunkEvaluator, step)
        monkeypatch.setattr(ChunkEvaluator, step, lambda self, *a, _m=method, _s=step, **k: (calls.append(_s), _m(self, *a, **k))[1])
    out = io.StringIO()
    stats = run_batch(engine, io.BytesIO(jsonl(items).encode()), out, chunk=4)
    monkeypatch.undo()
    assert calls == ["start", "start", "finish", "start", "finish", "finish"]  # a chunk started before the one before is read
    assert (stats.lines, stats.evaluated, stats.errors) == (12, 6, 6)
    assert engine._grounder is not None  # the chunks were grounded in the engine's grounding thread
    assert len(returned) == len({id(c) for c in returned}) == 3  # one batch control a chunk, each freed once
    evaluator = ChunkEvaluator(engine)
    lines = [line.encode() for line in jsonl(items).splitlines()]
    assert out.getvalue() == "".join(evaluator.run(1 + i, lines[i : i + 4])[0] for i in range(0, 12, 4))
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r.get("line") for r in records] == [None, 2, None, 4, None, 6, None, 8, None, 10, None, 12]
