"""Plain-text justification of a result, rendered with jinja2 (StrictUndefined).

For every code: the rule that produced it, its source, edition and evidence,
the facts it used, the conditions it checked and the atoms whose absence it
relied on, then the same for each derived premise, down to the encounter
facts (one derivation per conclusion; ``depth`` bounds how far down).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import clingo
import jinja2

from cptkb.reasoner.result import Derivation, Result
from cptkb.reasoner.vocab import Vocabulary

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("cptkb.explain", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)


def _steps(
    atom: clingo.Symbol,
    by_head: dict[clingo.Symbol, list[Derivation]],
    vocab: Vocabulary,
    depth: int,
    seen: set[clingo.Symbol],
) -> list[dict[str, Any]]:
    derivations = by_head.get(atom)
    if not derivations or depth <= 0 or atom in seen:
        return []
    seen.add(atom)
    d = derivations[0]
    src = vocab.rules[d.rule]
    premises = [p for p in d.facts if p in by_head]
    children: list[dict[str, Any]] = []
    for p in premises + [m for m in d.members if m in by_head]:
        children.extend(_steps(p, by_head, vocab, depth - 1, seen))
    return [
        {
            "rule": d.rule,
            "section": src.section,
            "document": src.document,
            "edition": src.edition,
            "evidence_label": vocab.evidence_labels.get(src.evidence, src.evidence),
            "used": [str(f) for f in d.facts],
            "counted": [str(m) for m in d.members],
            "checks": [f"{a} {op} {b}" for a, op, b in d.comparisons],
            "absent": [str(a) for a in d.absent],
            "children": children,
        }
    ]


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


def _codes(result: Result, vocab: Vocabulary, depth: int) -> list[dict[str, Any]]:
    by_head: dict[clingo.Symbol, list[Derivation]] = defaultdict(list)
    for d in sorted(result.derivations, key=lambda d: (d.rule, [str(f) for f in d.facts])):
        by_head[d.head].append(d)
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

    codes = _codes(result, vocab, depth)
    for c, s in zip(codes, sentences(result, vocab), strict=True):
        c["sentence"] = s["sentence"]
    review = None if result.claim_review is None else [r.to_dict() for r in result.claim_review]
    template = _ENV.get_template(template_name)
    return template.render(
        result=result, codes=codes, findings=[f.to_dict() for f in result.findings], review=review
    ).rstrip("\n") + "\n"
