"""`cptkb impact`: what a change to the knowledge base changes on a corpus of cases.

Runs every case under two knowledge bases (a directory, or for the one before
a git revision of this repository) and lists the encounters whose codes or
findings differ, grouped by the rules whose firing differs, with their
citations.
"""

from __future__ import annotations

import subprocess
import tarfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from .cases import Case
from .engine import Engine
from .errors import CptkbError, InvalidEncounter


class ImpactError(CptkbError, ValueError):
    """A knowledge base to compare could not be found."""


@dataclass
class Change:
    case: str
    encounter: str
    codes_before: list[str]
    codes_after: list[str]
    findings_added: list[str]
    findings_removed: list[str]
    rules_added: list[str]  # rules that fire after, not before
    rules_removed: list[str]


@dataclass
class Impact:
    cases: int = 0
    changes: list[Change] = field(default_factory=list)
    citations: dict[str, str] = field(default_factory=dict)  # rule id -> document (after, else before)

    def by_rule(self) -> dict[str, list[Change]]:
        groups: dict[str, list[Change]] = {}
        for ch in self.changes:
            rules = ch.rules_added + ch.rules_removed
            if not rules:  # the same rules fired: group by the findings that differ
                rules = sorted({f.split(":", 1)[0] for f in ch.findings_added + ch.findings_removed})
            rules = rules or ["(codes differ, no rule fires differently)"]
            for r in rules:
                groups.setdefault(r, []).append(ch)
        return dict(sorted(groups.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "changed": len(self.changes),
            "by_rule": {
                rule: {
                    "citation": self.citations.get(rule, ""),
                    "encounters": [
                        {
                            "case": c.case,
                            "id": c.encounter,
                            "codes_before": c.codes_before,
                            "codes_after": c.codes_after,
                            "findings_added": c.findings_added,
                            "findings_removed": c.findings_removed,
                        }
                        for c in changes
                    ],
                }
                for rule, changes in self.by_rule().items()
            },
        }

    def to_text(self) -> str:
        lines = [f"cases run: {self.cases}; encounters whose codes or findings changed: {len(self.changes)}"]
        for rule, changes in self.by_rule().items():
            cite = self.citations.get(rule, "")
            lines.append(f"{rule}" + (f" [{cite}]" if cite else "") + f": {len(changes)} encounter(s)")
            for c in changes:
                lines.append(f"  {c.encounter} ({c.case}): {' '.join(c.codes_before) or '-'} -> {' '.join(c.codes_after) or '-'}")
                for f in c.findings_added:
                    lines.append(f"    + finding {f}")
                for f in c.findings_removed:
                    lines.append(f"    - finding {f}")
        return "\n".join(lines) + "\n"


def kb_at_revision(rev: str, repo: Path, into: Path) -> Path:
    """Extract kb/ as it stood at git revision ``rev`` of ``repo`` into ``into``; return its path."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", rev, "kb"], capture_output=True, check=False
    )
    if proc.returncode != 0:
        raise ImpactError(f"--before {rev}: not a directory, and git cannot give kb/ at that revision: "
                          f"{proc.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=BytesIO(proc.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "kb"


def _summary(engine: Engine, case: Case) -> tuple[list[str], set[str], set[str]] | None:
    try:
        result = engine.evaluate(case.encounter, case.switches, trace=True)
    except InvalidEncounter:
        return None
    codes = [f"{c.code}x{c.units}" + "".join(f"-{m}" for m in c.modifiers) for c in result.codes]
    findings = {f"{f.rule}: {f.message}" for f in result.findings}
    return codes, findings, {d.rule for d in result.derivations}


def impact(before: Engine, after: Engine, cases: list[Case]) -> Impact:
    out = Impact()
    for engine in (before, after):
        for rid, src in engine.vocab.rules.items():
            out.citations[rid] = src.document
    for case in cases:
        if "error" in case.expect:
            continue
        a = _summary(before, case)
        b = _summary(after, case)
        out.cases += 1
        if a is None or b is None:
            continue
        if a[0] == b[0] and a[1] == b[1]:
            continue
        ident = case.encounter.get("id", "") if isinstance(case.encounter, dict) else ""
        out.changes.append(
            Change(
                case.name,
                str(ident),
                a[0],
                b[0],
                sorted(b[1] - a[1]),
                sorted(a[1] - b[1]),
                sorted(b[2] - a[2]),
                sorted(a[2] - b[2]),
            )
        )
    return out


def load_before(spec: str, repo: Path, workdir: Path) -> Path:
    path = Path(spec)
    if path.is_dir():
        return path
    return kb_at_revision(spec, repo, workdir)


__all__ = ["impact", "load_before", "Impact", "ImpactError"]
