"""The short justification: one sentence per code, from one jinja2 template per rule family.

The family of a code is the predicate its unit came from (``emg_unit``,
``ncs_unit``, ``other_unit`` in kb/rules): its sentence is rendered by
``templates/short/<family>.txt.j2`` with the concrete values the trace holds
(limbs with their muscle, nerve and root-level counts, sites, studies, the
study count and the ladder step, nerves and muscles tested, the date), then
the rule id, its citation and whether the source is confirmed. The long
level is :func:`cptkb.explain.text.render_text` (the chain down to the facts),
which starts each code with the same sentence.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import clingo

from cptkb.reasoner.result import Derivation, Result
from cptkb.reasoner.vocab import Vocabulary

UNIT_PREDICATES = {"emg_unit": "emg", "ncs_unit": "ncs", "other_unit": "other"}
FACILITY = ("19", "21", "22", "23")


def _label(sym: Any, vocab: Vocabulary) -> str:
    return vocab.label(sym)


def _limb_label(name: str) -> str:
    side, _, part = name.partition("_")
    return f"{side} {part} limb"


class Trace:
    """The derived atoms of a result, by predicate, and the derivations below each one."""

    def __init__(self, result: Result) -> None:
        self.by_name: dict[str, list[Any]] = defaultdict(list)
        # each head's derivations in the order justifications take them: by rule id, then premises
        self.by_head: dict[Any, list[Derivation]] = defaultdict(list)
        for d in sorted(result.derivations, key=Derivation.order):
            if d.head not in self.by_head:
                self.by_name[d.head.name].append(d.head)
            self.by_head[d.head].append(d)
        self._result = result

    @property
    def inputs(self) -> list[Any]:
        """The encounter's input facts, as clingo symbols."""
        return self._result.input_facts

    def value(self, name: str, *key: Any) -> Any:
        """The last argument of the atom ``name(key..., V)`` (a count), or None."""
        for atom in self.by_name.get(name, []):
            args = atom.arguments
            if tuple(str(a) for a in args[:-1]) == tuple(str(k) for k in key):
                return args[-1].number if args[-1].type == clingo.SymbolType.Number else args[-1]
        return None

    def facts_below(self, head: Any) -> list[Any]:
        """Every encounter fact in the first derivation chain of ``head``."""
        seen: set[Any] = set()
        out: list[Any] = []
        stack = [head]
        while stack:
            atom = stack.pop()
            if atom in seen:
                continue
            seen.add(atom)
            ds = self.by_head.get(atom)
            if not ds:
                if atom.type == clingo.SymbolType.Function and atom.name.startswith("enc_"):
                    out.append(atom)
                continue
            stack.extend(ds[0].facts)
            stack.extend(ds[0].members)
        return sorted(out, key=str)


def _limb(t: Trace, limb: str) -> dict[str, Any]:
    return {
        "name": limb,
        "label": _limb_label(limb),
        "muscles": t.value("limb_muscle_count", limb) or 0,
        "nerves": t.value("limb_nerve_count", limb) or 0,
        "roots": t.value("limb_root_count", limb) or 0,
    }


def _study(args: tuple[Any, ...], t: Trace, vocab: Vocabulary) -> str:
    nerve, side, kind, branch = args
    text = f"{_label(nerve, vocab)} {str(kind).replace('_', '-')} ({side})"
    if branch.type == clingo.SymbolType.String and branch.string:
        text = f"{_label(nerve, vocab)} {branch.string} branch {str(kind).replace('_', '-')} ({side})"
    fwave = str(kind) == "motor" and any(
        tuple(map(str, a.arguments)) == (str(nerve), str(side), str(branch)) for a in t.by_name.get("ncs_fwave", [])
    )
    return text + (" with F-wave" if fwave else "")


def _unit_label(unit: Any, t: Trace, vocab: Vocabulary) -> str:
    name, args = unit.name, unit.arguments
    if name == "limb":
        return _limb_label(str(args[0]))
    if name in ("nerve", "muscle"):
        return f"{_label(args[0], vocab)} ({args[1]})"
    if name == "study":
        return _study(tuple(args), t, vocab)
    if name == "site":
        return _site_label(args[0], vocab)
    return str(unit)


def _site_label(site: Any, vocab: Vocabulary) -> str:
    if site.type == clingo.SymbolType.Function and site.name == "hemidiaphragm":
        return f"the {site.arguments[0]} hemidiaphragm"
    return _label(site, vocab).replace("_", " ")


def code_context(result: Result, vocab: Vocabulary, line: Any, t: Trace) -> dict[str, Any]:
    """The values the family template of ``line`` (a CodeLine) may name."""
    units: list[tuple[str, Any, str, Derivation]] = []  # (family, unit term, rule id, derivation)
    for pred, family in UNIT_PREDICATES.items():
        for head in t.by_name.get(pred, []):
            if head.arguments[0].string == line.code:
                d = t.by_head[head][0]
                units.append((family, head.arguments[1], d.rule, d))
    info = vocab.codes.get(line.code)
    if not units:
        return {"family": "", "rule": "", "sentence": info.description if info else line.code}
    family, _, rule, first = units[0]
    src = vocab.rules.get(rule)
    pos = next((args[0].string for name, args in result.input if name == "enc_pos"), "11")
    ctx: dict[str, Any] = {
        "family": family,
        "code": line.code,
        "rule": rule,
        "section": src.section if src else "",
        "source": f"{src.document} ({src.edition})" if src else "",
        "evidence": vocab.evidence_labels.get(src.evidence, src.evidence) if src else "",
        "date": result.date_of_service,
        "limbs": [_limb(t, str(u.arguments[0])) for _, u, _, _ in units if u.name == "limb"],
        "complete": [_limb(t, str(a.arguments[0])) for a in t.by_name.get("limb_complete", [])],
        "sites": sorted({_unit_label(u, t, vocab) for _, u, _, _ in units if u.name == "site"}),
        "unit_labels": [_unit_label(u, t, vocab) for _, u, _, _ in units],
        "unit_studies": [_unit_label(u, t, vocab) for _, u, _, _ in units if u.name == "study"],
        "studies": [_study(tuple(a.arguments), t, vocab) for a in t.by_name.get("ncs_study", [])],
        "study_count": t.value("ncs_study_count") or 0,
        "muscles": [],
        "ladder": "",
        "modifier_note": "",
    }
    emg_facts = [f for f in t.facts_below(clingo.Function("emg_unit", [clingo.String(line.code), units[0][1]])) if f.name == "enc_emg"] if family == "emg" else []
    ctx["muscles"] = sorted({f"{_label(f.arguments[1], vocab)} ({f.arguments[2]})" for f in emg_facts})
    for fact in first.facts:
        if fact.name == "ncs_ladder":
            lo, hi = fact.arguments[1].number, fact.arguments[2].number
            ctx["ladder"] = f"{lo} or more" if hi >= 9999 else f"{lo}-{hi}"
    if "26" in line.modifiers:
        ctx["modifier_note"] = f"modifier 26, the professional component: place of service {pos} is a facility"
    return ctx


def sentences(result: Result, vocab: Vocabulary, trace: Trace | None = None) -> list[dict[str, Any]]:
    """For each code of ``result``: its sentence (from its family's template) and its rule, source and
    evidence (``trace``: the result's Trace, when the caller has it)."""
    from .text import _ENV

    t = trace if trace is not None else Trace(result)
    codes = []
    for line in result.codes:
        ctx = code_context(result, vocab, line, t)
        sentence = ctx["sentence"] if "sentence" in ctx else _ENV.get_template(f"short/{ctx['family']}.txt.j2").render(**ctx).strip()
        codes.append(
            {
                "code": line.code,
                "units": line.units,
                "modifiers": list(line.modifiers),
                "sentence": sentence,
                "modifier_note": ctx.get("modifier_note", ""),
                "rule": ctx.get("rule", ""),
                "source": ctx.get("source", ""),
                "evidence": ctx.get("evidence", ""),
            }
        )
    return codes


def render_summary(result: Result, vocab: Vocabulary) -> str:
    """The short level: one sentence per code naming the values behind it, its rule, citation and
    evidence; then the findings and the claim review in brief (needs ``trace=True``)."""
    from .text import _ENV

    findings = [f.to_dict() for f in result.findings]
    review = None if result.claim_review is None else [r.to_dict() for r in result.claim_review]
    template = _ENV.get_template("summary.txt.j2")
    return template.render(result=result, codes=sentences(result, vocab), findings=findings, review=review).rstrip("\n") + "\n"


__all__ = ["code_context", "render_summary", "sentences"]
