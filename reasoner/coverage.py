"""Rule coverage of a case corpus: which rules fired, which citations and date periods were exercised.

A rule that no case can reach on purpose is listed in the knowledge base as
``coverage_exempt(Id, Reason)``; the report shows it with its reason instead of
as a gap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .cases import Case
from .engine import Engine


@dataclass
class Coverage:
    cases: int = 0
    rules: dict[str, int] = field(default_factory=dict)  # rule id -> cases in which it fired
    exempt: dict[str, str] = field(default_factory=dict)  # rule id -> reason
    citations: dict[str, int] = field(default_factory=dict)  # source document -> cases
    exempt_citations: set[str] = field(default_factory=set)  # documents cited only by exempt rules
    periods: dict[tuple[str, str], int] = field(default_factory=dict)  # (from, to) -> cases

    @property
    def never_fired(self) -> list[str]:
        return sorted(r for r, n in self.rules.items() if n == 0 and r not in self.exempt)

    def to_dict(self) -> dict[str, Any]:
        fired = sum(1 for n in self.rules.values() if n)
        return {
            "cases": self.cases,
            "rules": {"total": len(self.rules), "fired": fired, "counts": dict(sorted(self.rules.items()))},
            "never_fired": self.never_fired,
            "exempt": dict(sorted(self.exempt.items())),
            "citations": {
                "total": len(self.citations),
                "exercised": sum(1 for n in self.citations.values() if n),
                "not_exercised": sorted(c for c, n in self.citations.items() if n == 0 and c not in self.exempt_citations),
                "exempt": sorted(c for c, n in self.citations.items() if n == 0 and c in self.exempt_citations),
            },
            "periods": [
                {"from": a, "to": b, "cases": n} for (a, b), n in sorted(self.periods.items())
            ],
        }

    def to_text(self) -> str:
        d = self.to_dict()
        lines = [
            f"cases run: {d['cases']}",
            f"rules fired: {d['rules']['fired']} of {d['rules']['total']}",
        ]
        lines += [f"  never fired: {r}" for r in d["never_fired"]]
        lines += [f"  exempt: {r}: {why}" for r, why in d["exempt"].items() if self.rules.get(r, 0) == 0]
        lines.append(f"citations exercised: {d['citations']['exercised']} of {d['citations']['total']}")
        lines += [f"  not exercised: {c}" for c in d["citations"]["not_exercised"]]
        lines.append("date-of-service periods:")
        lines += [f"  {p['from']} to {p['to']}: {p['cases']} cases" for p in d["periods"]]
        return "\n".join(lines) + "\n"


def _iso(d: int) -> str:
    return f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}"


def periods(engine: Engine) -> list[tuple[int, int]]:
    """The covered dates cut at every date a code enters or leaves the catalog."""
    start, end = engine.vocab.coverage
    cuts = {start}
    for info in engine.vocab.codes.values():
        if start < info.start <= end:
            cuts.add(info.start)
        nxt = int((dt.date(info.end // 10000, info.end // 100 % 100, info.end % 100) + dt.timedelta(days=1)).strftime("%Y%m%d")) if info.end < end else None
        if nxt is not None and start < nxt <= end:
            cuts.add(nxt)
    bounds = sorted(cuts)
    out = []
    for i, lo in enumerate(bounds):
        hi_next = bounds[i + 1] if i + 1 < len(bounds) else None
        if hi_next is None:
            hi = end
        else:
            d = dt.date(hi_next // 10000, hi_next // 100 % 100, hi_next % 100) - dt.timedelta(days=1)
            hi = int(d.strftime("%Y%m%d"))
        out.append((lo, hi))
    return out


def measure(engine: Engine, cases: list[Case]) -> Coverage:
    cov = Coverage()
    cov.rules = {m.rule_id: 0 for m in engine.program.marked}
    cov.exempt = dict(engine.vocab.coverage_exempt)
    cov.citations = {src.document: 0 for rid, src in engine.vocab.rules.items() if rid in cov.rules}
    cited_by_others = {src.document for rid, src in engine.vocab.rules.items() if rid in cov.rules and rid not in cov.exempt}
    cov.exempt_citations = set(cov.citations) - cited_by_others
    spans = periods(engine)
    cov.periods = {(_iso(a), _iso(b)): 0 for a, b in spans}
    for case in cases:
        if "error" in case.expect:
            continue
        try:
            result = engine.evaluate(case.encounter, case.switches, trace=True)
        except Exception:  # noqa: BLE001 (a failing case is reported by cptkb test, not here)
            continue
        cov.cases += 1
        fired = {d.rule for d in result.derivations}
        for rid in fired:
            cov.rules[rid] = cov.rules.get(rid, 0) + 1
        for doc in {engine.vocab.rules[r].document for r in fired if r in engine.vocab.rules}:
            cov.citations[doc] = cov.citations.get(doc, 0) + 1
        dos = int(result.date_of_service.replace("-", ""))
        for a, b in spans:
            if a <= dos <= b:
                cov.periods[(_iso(a), _iso(b))] += 1
    return cov
