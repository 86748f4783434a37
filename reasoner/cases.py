"""Encounter case files: an encounter, what it must give, and the source that says so.

A case file is JSON: ``{"cases": [case, ...]}``; each case has

- ``name``: a sentence saying what the case shows;
- ``source``: the document and section the expectation rests on;
- ``evidence``: verified, secondary, inferred or unconfirmed (not for invalid input);
- ``encounter``: a contract-v1 encounter;
- ``switches`` (optional): policy switches, ``{"paraspinals_count_toward_five": true}``;
- ``expect``: any of
  - ``codes``: the exact code set, in billing order, with units and modifiers;
  - ``findings``: rule ids that must be among the findings;
  - ``no_findings``: rule ids that must not be;
  - ``claim_review``: one entry per claimed line: ``status`` and, for a
    changed line, ``corrected``; optional ``rules`` that must be among its rules;
  - ``error``: the encounter is invalid: ``field`` and ``value`` of the
    InvalidEncounter, and optional ``contains`` (texts the message must hold);
  - ``explains``: rule ids that must fire (appear in the explanation);
  - ``not_explains``: rule ids that must not fire.

The project's own corpus lives in ``tests/cases``; pytest collects every case
as a test item, and :func:`run_case` is what it calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engine import Engine
from .errors import InvalidEncounter

EVIDENCE = ("verified", "secondary", "inferred", "unconfirmed")


@dataclass(frozen=True)
class Case:
    file: Path
    index: int
    name: str
    source: str
    evidence: str | None
    encounter: Any
    switches: dict[str, bool]
    expect: dict[str, Any]


class CaseFileError(Exception):
    """A case file does not have the case-file shape."""


def load_cases(path: Path) -> list[Case]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CaseFileError(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise CaseFileError(f'{path}: expected an object with a "cases" array')
    out = []
    for i, raw in enumerate(data["cases"]):
        where = f"{path}: cases[{i}]"
        if not isinstance(raw, dict):
            raise CaseFileError(f"{where}: expected an object")
        for key in ("name", "source", "encounter", "expect"):
            if key not in raw:
                raise CaseFileError(f"{where}: missing {key!r}")
        expect = raw["expect"]
        evidence = raw.get("evidence")
        if "error" not in expect and evidence not in EVIDENCE:
            raise CaseFileError(f"{where}: evidence must be one of {', '.join(EVIDENCE)}")
        out.append(
            Case(path, i, raw["name"], raw["source"], evidence, raw["encounter"], raw.get("switches", {}), expect)
        )
    return out


def _codes(lines: list[dict[str, Any]]) -> list[str]:
    return [f"{c['code']} x{c['units']}" + (f" -{'-'.join(c['modifiers'])}" if c.get("modifiers") else "") for c in lines]


def run_case(engine: Engine, case: Case) -> list[str]:
    """Run one case; return the differences from what it expects (empty when it passes)."""
    problems: list[str] = []
    expect = case.expect
    trace = "explains" in expect or "not_explains" in expect
    try:
        result = engine.evaluate(case.encounter, case.switches, trace=trace)
    except InvalidEncounter as exc:
        if "error" not in expect:
            return [f"the encounter was rejected as invalid: {exc}"]
        want = expect["error"]
        if "field" in want and exc.field != want["field"]:
            problems.append(f"error field: expected {want['field']!r}, got {exc.field!r} ({exc})")
        if "value" in want and exc.value != want["value"]:
            problems.append(f"error value: expected {want['value']!r}, got {exc.value!r} ({exc})")
        for text in want.get("contains", []):
            if text not in str(exc):
                problems.append(f"error message lacks {text!r}: {exc}")
        return problems
    if "error" in expect:
        return [f"expected invalid input at {expect['error'].get('field')!r}, but the encounter was evaluated"]
    got = result.to_dict()
    if "codes" in expect and got["codes"] != [
        {"code": c["code"], "units": c["units"], "modifiers": c.get("modifiers", [])} for c in expect["codes"]
    ]:
        problems.append(f"codes: expected {_codes(expect['codes'])}, got {_codes(got['codes'])}")
    rules = {f["rule"] for f in got["findings"]}
    for rid in expect.get("findings", []):
        if rid not in rules:
            problems.append(f"finding {rid} missing; findings were {sorted(rules)}")
    for rid in expect.get("no_findings", []):
        if rid in rules:
            problems.append(f"finding {rid} present but must not be")
    fired = {d.rule for d in result.derivations}
    for rid in expect.get("explains", []):
        if rid not in fired:
            problems.append(f"rule {rid} does not appear in the explanation; rules that fired: {sorted(fired)}")
    for rid in expect.get("not_explains", []):
        if rid in fired:
            problems.append(f"rule {rid} appears in the explanation but must not")
    if "claim_review" in expect:
        review = got.get("claim_review")
        if review is None:
            problems.append("claim_review missing from the result")
        else:
            want_lines = expect["claim_review"]
            if len(want_lines) != len(review):
                problems.append(f"claim_review: expected {len(want_lines)} lines, got {len(review)}")
            for i, (want, line) in enumerate(zip(want_lines, review)):
                if "code" in want and want["code"] != line["code"]:
                    problems.append(f"claim[{i}]: expected code {want['code']}, got {line['code']}")
                if want.get("status") != line["status"]:
                    problems.append(
                        f"claim[{i}] {line['code']}: expected {want.get('status')}, got {line['status']} "
                        f"({'; '.join(line['reasons'])})"
                    )
                if "corrected" in want:
                    fix = want["corrected"]
                    fix = {"code": fix["code"], "units": fix["units"], "modifiers": fix.get("modifiers", [])}
                    if line.get("corrected") != fix:
                        problems.append(f"claim[{i}] {line['code']}: expected corrected {fix}, got {line.get('corrected')}")
                for rid in want.get("rules", []):
                    if rid not in line["rules"]:
                        problems.append(f"claim[{i}] {line['code']}: rule {rid} missing from {line['rules']}")
    return problems


def case_files(paths: list[Path]) -> list[Path]:
    """The case files named, and the *.json files under the directories named, in a stable order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        else:
            out.append(path)
    return out
