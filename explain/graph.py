"""The trace graph of a result: encounter facts, rules applied, conclusions, codes, findings.

Built from the provenance the knowledge base records (``prov`` and
``prov_member`` atoms, see :mod:`cptkb.reasoner.loader`). Node keys are
stable strings; edges run from premises to the rule application and from the
rule application to its conclusion.

Node kinds:

- ``fact``: an encounter input fact (``enc_emg(0,abductor_pollicis_brevis,left)``);
- ``data``: a reference-data fact the rule read (``muscle_root(...)``, ``cpt_code(...)``);
- ``absence``: a condition that held because an atom was absent;
- ``rule``: one application of a rule, with its id, source and evidence;
- ``conclusion``: a derived atom;
- ``code`` and ``finding``: the outputs, linked from their conclusions.
"""

from __future__ import annotations

import json
from typing import Any

import clingo
import networkx as nx

from cptkb.reasoner.result import SET_NODE, Result
from cptkb.reasoner.vocab import Vocabulary


def _rule_node(d: Any, vocab: Vocabulary) -> tuple[str, dict[str, Any]]:
    """A derivation's rule-application node: its key and its attributes (rule id, source, evidence,
    the comparisons that held)."""
    premises = ";".join(str(f) for f in d.facts)
    absent = ";".join(str(a) for a in d.absent)
    src = vocab.rules.get(d.rule)
    return f"rule:{d.rule}|{d.head}|{premises}|{absent}", {
        "kind": "rule",
        "rule": d.rule,
        "document": src.document if src else "",
        "section": src.section if src else "",
        "edition": src.edition if src else "",
        "evidence": src.evidence if src else "",
        "comparisons": [f"{a} {op} {b}" for a, op, b in d.comparisons],
    }


def build_graph(result: Result, vocab: Vocabulary, all_derivations: bool = False) -> nx.DiGraph:
    """The trace graph of ``result`` (which must come from an evaluation with ``trace=True``).

    By default each conclusion keeps one derivation (the first by rule id and
    premises); ``all_derivations`` keeps every way it was derived.
    """
    # Nodes and edges are gathered first, in the order they are met, and handed to networkx at
    # once (a node met again keeps its place; an edge met again takes its last role).
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str], str] = {}
    derived = {d.head for d in result.derivations}
    for fact in result.input_facts:
        text = str(fact)
        nodes[f"fact:{text}"] = {"kind": "fact", "atom": text}
    ordered = sorted(result.derivations, key=lambda d: (str(d.head), d.rule, [str(f) for f in d.facts]))
    if not all_derivations:
        first: dict[clingo.Symbol, object] = {}
        for d in ordered:
            first.setdefault(d.head, d)
        ordered = [d for d in ordered if first[d.head] is d]

    def atom_node(prefix: str, kind: str, atom: clingo.Symbol) -> str:
        text = str(atom)
        key = prefix + text
        if key not in nodes:
            nodes[key] = {"kind": kind, "atom": text}
        return key

    for d in ordered:
        app, nodes[app] = _rule_node(d, vocab)
        edges[(app, atom_node("atom:", "conclusion", d.head))] = "concludes"
        for role, atoms in (("premise", d.facts), ("counted", d.members)):
            for atom in atoms:
                if atom in derived:
                    key = atom_node("atom:", "conclusion", atom)
                elif atom.type == clingo.SymbolType.Function and atom.name.startswith("enc_"):
                    key = atom_node("fact:", "fact", atom)
                else:
                    key = atom_node("data:", "data", atom)
                edges[(key, app)] = role
        for atom in d.absent:
            edges[(atom_node("absent:", "absence", atom), app)] = "absent"
    for line in result.codes:
        key = f"code:{line.code}"
        nodes[key] = {"kind": "code", "code": line.code, "units": line.units, "modifiers": list(line.modifiers)}
        atom = f'atom:code("{line.code}",{line.units})'
        if atom in nodes:
            edges[(atom, key)] = "output"
        for mod in line.modifiers:
            matom = f'atom:code_modifier("{line.code}","{mod}")'
            if matom in nodes:
                edges[(matom, key)] = "modifier"
    for i, finding in enumerate(result.findings):
        key = f"finding:{finding.rule}:{i}"
        nodes[key] = {"kind": "finding", "rule": finding.rule, "severity": finding.severity, "message": finding.message}
        atom = f"atom:{finding.atom}"
        if atom in nodes:
            edges[(atom, key)] = "output"
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes.items())
    graph.add_edges_from((u, v, {"role": role}) for (u, v), role in edges.items())
    return graph


def node_link(graph: nx.DiGraph) -> dict[str, Any]:
    """The graph as node-link JSON data, nodes and links in a stable order."""
    nodes = [{"id": n, **graph.nodes[n]} for n in sorted(graph.nodes)]
    links = [{"source": u, "target": v, **graph.edges[u, v]} for u, v in sorted(graph.edges)]
    return {"directed": True, "nodes": nodes, "links": links}


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {
    "fact": "box",
    "data": "note",
    "absence": "box",
    "rule": "ellipse",
    "conclusion": "plaintext",
    "code": "doubleoctagon",
    "finding": "octagon",
}


def render_dot(graph: nx.DiGraph) -> str:
    """The trace graph in Graphviz DOT: facts, data and absences as boxes (absences dashed),
    rule applications as ellipses labelled with rule id and evidence, codes and findings last."""
    lines = ["digraph trace {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    names = {n: f"n{i}" for i, n in enumerate(sorted(graph.nodes))}
    for node in sorted(graph.nodes):
        data = graph.nodes[node]
        kind = data["kind"]
        if kind == "rule":
            label = f"{data['rule']}\n{data['evidence']}"
        elif kind == "code":
            label = f"{data['code']} x{data['units']}" + "".join(f" -{m}" for m in data["modifiers"])
        elif kind == "finding":
            label = f"{data['severity']}: {data['rule']}"
        elif kind == "absence":
            label = f"no {data['atom']}"
        else:
            label = data["atom"]
        style = ', style="dashed"' if kind == "absence" else ""
        lines.append(f"  {names[node]} [shape={_DOT_SHAPES[kind]}, label={_dot_quote(label)}{style}];")
    for u, v in sorted(graph.edges):
        role = graph.edges[u, v]["role"]
        style = ' [style="dashed"]' if role == "absent" else (' [style="dotted"]' if role == "counted" else "")
        lines.append(f"  {names[u]} -> {names[v]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- the node-link JSON text without building a graph (batch output) ------------------------------

_NODE_TEXT: dict[tuple[str, str], str] = {}
_QUOTED: dict[str, str] = {}
_CACHE_LIMIT = 20_000


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


# A string as json.dumps(..., ensure_ascii=False) writes it (its encoder, in C, without the call
# through json.dumps and JSONEncoder: a tenth of the time).
_quote = json.encoder.encode_basestring


def _atom_node(prefix: str, kind: str, atom: Any) -> tuple[str, str]:
    key = f"{prefix}{atom}"
    text = _NODE_TEXT.get((key, kind))
    if text is None:
        if len(_NODE_TEXT) >= _CACHE_LIMIT:
            _NODE_TEXT.clear()
        # _dumps({"id": key, "kind": kind, "atom": str(atom)}), written directly
        text = _NODE_TEXT[(key, kind)] = f'{{"id": {_quote(key)}, "kind": {_quote(kind)}, "atom": {_quote(str(atom))}}}'
    return key, text


def _application(d: Any, vocab: Vocabulary) -> tuple[str, str, str, tuple[tuple[Any, str], ...], tuple[Any, ...], tuple[Any, ...]]:
    """A derivation's rule node (key, JSON), its head key, and its premises, members and absences:
    made once per derivation and vocabulary, and kept on the derivation (result.Derivation._node),
    which the engine keeps while the derivation recurs (a table of them, emptied when full, was too
    small for a stream of encounters: nearly half of them were made again)."""
    kept = d._node
    if kept is not None and kept[0] is vocab:
        return kept[1]
    app, attributes = _rule_node(d, vocab)
    node = {"id": app, **attributes}
    edges = tuple((p, "premise") for p in d.facts) + tuple((m, "counted") for m in d.members)
    made = (app, _dumps(node), f"atom:{d.head}", edges, d.absent, (d.head,))
    SET_NODE(d, (vocab, made))
    return made


def node_link_text(result: Result, vocab: Vocabulary, all_derivations: bool = False) -> str:
    """``json.dumps(node_link(build_graph(result, vocab, all_derivations)), ensure_ascii=False)``, byte for byte,
    built from cached pieces without a networkx graph (the batch command writes one per encounter)."""
    derived = {d.head for d in result.derivations}
    nodes: dict[str, str] = {}
    links: dict[tuple[str, str], str] = {}
    for fact in result.input_facts:
        key, text = _atom_node("fact:", "fact", fact)
        nodes[key] = text
    ordered = sorted(result.derivations, key=lambda d: (str(d.head), d.rule, [str(f) for f in d.facts]))
    if not all_derivations:
        first: dict[Any, Any] = {}
        for d in ordered:
            first.setdefault(d.head, d)
        ordered = [d for d in ordered if first[d.head] is d]
    for d in ordered:
        app, app_text, head_key, edges, absent, (head,) = _application(d, vocab)
        nodes[app] = app_text
        nodes[head_key] = _atom_node("atom:", "conclusion", head)[1]
        links[(app, head_key)] = "concludes"
        for atom, role in edges:
            if atom in derived:
                key, text = _atom_node("atom:", "conclusion", atom)
            elif atom.type == clingo.SymbolType.Function and atom.name.startswith("enc_"):
                key, text = _atom_node("fact:", "fact", atom)
            else:
                key, text = _atom_node("data:", "data", atom)
            nodes[key] = text
            links[(key, app)] = role
        for atom in absent:
            key, text = _atom_node("absent:", "absence", atom)
            nodes[key] = text
            links[(key, app)] = "absent"
    for line in result.codes:
        key = f"code:{line.code}"
        nodes[key] = _dumps({"id": key, "kind": "code", "code": line.code, "units": line.units, "modifiers": list(line.modifiers)})
        atom = f'atom:code("{line.code}",{line.units})'
        if atom in nodes:
            links[(atom, key)] = "output"
        for mod in line.modifiers:
            matom = f'atom:code_modifier("{line.code}","{mod}")'
            if matom in nodes:
                links[(matom, key)] = "modifier"
    for i, finding in enumerate(result.findings):
        key = f"finding:{finding.rule}:{i}"
        nodes[key] = _dumps({"id": key, "kind": "finding", "rule": finding.rule, "severity": finding.severity, "message": finding.message})
        atom = f"atom:{finding.atom}"
        if atom in nodes:
            links[(atom, key)] = "output"
    node_text = ", ".join(nodes[k] for k in sorted(nodes))
    quoted = _QUOTED
    if len(quoted) >= _CACHE_LIMIT:
        quoted.clear()
    parts = []
    for u, v in sorted(links):
        qu = quoted.get(u)
        if qu is None:
            qu = quoted[u] = _quote(u)
        qv = quoted.get(v)
        if qv is None:
            qv = quoted[v] = _quote(v)
        parts.append(f'{{"source": {qu}, "target": {qv}, "role": "{links[(u, v)]}"}}')
    link_text = ", ".join(parts)
    return f'{{"directed": true, "nodes": [{node_text}], "links": [{link_text}]}}'
