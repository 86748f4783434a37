"""Plain-text justification of a result, rendered with jinja2 (StrictUndefined).

For every code: the rule that produced it, its source, edition and evidence,
the facts it used, the conditions it checked and the atoms whose absence it
relied on, then the same for each derived premise, down to the encounter
facts (one derivation per conclusion; ``depth`` bounds how far down).
"""

from __future__ import annotations

from typing import Any

import clingo
import jinja2

from cptkb.reasoner.result import Derivation, Result
from cptkb.reasoner.vocab import Vocabulary

from .summary import Trace

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("cptkb.explain", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    # the templates ship with the package: no file-date check on every use
    auto_reload=False,
)


class _Step:
    """One rule application in a justification, at ``depth`` below the code it explains."""

    __slots__ = ("rule", "section", "document", "edition", "evidence_label", "used", "counted", "checks", "absent", "depth")

    def __init__(self, d: Derivation, vocab: Vocabulary, depth: int) -> None:
        src = vocab.rules[d.rule]
        self.rule = d.rule
        self.section = src.section
        self.document = src.document
        self.edition = src.edition
        self.evidence_label = vocab.evidence_labels.get(src.evidence, src.evidence)
        self.used = [str(f) for f in d.facts]
        self.counted = [str(m) for m in d.members]
        self.checks = [f"{a} {op} {b}" for a, op, b in d.comparisons]
        self.absent = [str(a) for a in d.absent]
        self.depth = depth


def _steps(
    atom: clingo.Symbol,
    by_head: dict[clingo.Symbol, list[Derivation]],
    vocab: Vocabulary,
    depth: int,
    seen: set[clingo.Symbol],
    level: int = 0,
) -> list[_Step]:
    """The chain of rule applications behind ``atom``, each followed by those behind its derived
    premises (depth first), as one list, ``depth`` levels at most: the templates indent each step
    by its level."""
    derivations = by_head.get(atom)
    if not derivations or level >= depth or atom in seen:
        return []
    seen.add(atom)
    d = derivations[0]
    out = [_Step(d, vocab, level)]
    for p in [p for p in d.facts if p in by_head] + [m for m in d.members if m in by_head]:
        out.extend(_steps(p, by_head, vocab, depth, seen, level + 1))
    return out


def render_text(result: Result, vocab: Vocabulary, depth: int = 12) -> str:
    """The justification of ``result`` as plain text (needs an evaluation with ``trace=True``).

    ``depth`` bounds how many rule applications down from each code are shown.
    """
    return _render("justification.txt.j2", result, vocab, depth)


def render_markdown(result: Result, vocab: Vocabulary, depth: int = 12) -> str:
    """The justification of ``result`` as Markdown: a code table, the reasons per code as nested
    lists, the findings and the claim review as tables."""
    return _render("justification.md.j2", result, vocab, depth)


def render_code(result: Result, vocab: Vocabulary, code: str, depth: int = 12) -> str:
    """The justification of one code of ``result`` as plain text: the code, then its chain of rules."""
    (c,) = [c for c in _codes(result, vocab, depth) if c["code"] == code]
    return _ENV.get_template("code.txt.j2").render(c=c).rstrip("\n") + "\n"


def _codes(result: Result, vocab: Vocabulary, depth: int, trace: Trace | None = None) -> list[dict[str, Any]]:
    by_head = (trace if trace is not None else Trace(result)).by_head
    codes = []
    for line in result.codes:
        atom = clingo.Function("code", [clingo.String(line.code), clingo.Number(line.units)])
        steps = _steps(atom, by_head, vocab, depth, set())
        for mod in line.modifiers:
            matom = clingo.Function("code_modifier", [clingo.String(line.code), clingo.String(mod)])
            steps.extend(_steps(matom, by_head, vocab, depth, set()))
        info = vocab.codes.get(line.code)
        codes.append(
            {
                "code": line.code,
                "units": line.units,
                "modifiers": list(line.modifiers),
                "description": info.description if info else "",
                "steps": steps,
            }
        )
    return codes


def _render(template_name: str, result: Result, vocab: Vocabulary, depth: int) -> str:
    from .summary import sentences

    trace = Trace(result)
    codes = _codes(result, vocab, depth, trace)
    for c, s in zip(codes, sentences(result, vocab, trace), strict=True):
        c["sentence"] = s["sentence"]
    review = None if result.claim_review is None else [r.to_dict() for r in result.claim_review]
    template = _ENV.get_template(template_name)
    return template.render(
        result=result, codes=codes, findings=[f.to_dict() for f in result.findings], review=review
    ).rstrip("\n") + "\n"
