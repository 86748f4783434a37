"""The cptkb command.

    cptkb evaluate FILE|- [--format json|text] [--explain] [--switch NAME=on|off]
    cptkb batch IN|- [-o OUT] [--workers N] [--explain]   (JSON Lines, streamed; .gz accepted)
    cptkb evaluate-batch FILE|-            (JSON Lines in, JSON Lines out; empty lines skipped)
    cptkb what-if CODE FILE|- [--format text|json]   (the fewest changes that make CODE valid)
    cptkb why-not CODE FILE|- [--format text|json]   (why CODE is not in the code set, or why it is)
    cptkb diff A B [--format text|json]              (codes, findings, review, rules that differ)
    cptkb data import PATH... [--table ptp|mue|aoc] [--effective YYYY-MM-DD]   (CMS NCCI tables)
    cptkb data list
    cptkb test PATH...                      (run case files; exit 1 when a case fails)
    cptkb coverage PATH... [--format json]  (rules, citations, date periods exercised)
    cptkb verify [--invariants FILE]        (invariants by search; structure)
    cptkb impact --before DIR|REV [--after DIR] CORPUS...

Exit status: 0 evaluated; 2 invalid input (nothing on standard output, the
reason on standard error); 1 internal fault.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO
from collections.abc import Sequence

from .engine import Engine, default_engine
from .errors import InvalidEncounter, KnowledgeBaseFault
from .loader import KnowledgeBaseError

EXIT_OK = 0
EXIT_FAULT = 1
EXIT_INVALID = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"cptkb: {message}\n")
        raise SystemExit(EXIT_INVALID)


def _policy_options(parser: argparse.ArgumentParser) -> None:
    """--policy and --switch, for every command that evaluates an encounter."""
    parser.add_argument("--policy", metavar="NAME", help="a policy profile for disputed points (default: cpt); --switch overrides it")
    parser.add_argument("--switch", action="append", default=[], metavar="NAME=on|off",
                        help="set a policy switch of the knowledge base (repeatable)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cptkb", description="CPT coding rules with their reasons (needle EMG and nerve conduction).")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ev = sub.add_parser("evaluate", help="the valid code set of one encounter (contract v1)")
    ev.add_argument("file", help="a file holding one encounter object, or - for standard input")
    ev.add_argument("--format", choices=("json", "text", "markdown", "dot"), default="json",
                    help="json (contract v1), text or markdown (justification), dot (the trace graph for Graphviz)")
    ev.add_argument("--all-derivations", action="store_true",
                    help="with --explain or --format dot: every derivation of each conclusion, not one")
    ev.add_argument("--level", choices=("short", "long"), default="long",
                    help="text: short (one sentence per code) or long (the chain of rules down to the facts; default)")
    ev.add_argument("--depth", type=int, default=12, metavar="N",
                    help="text and markdown: rule applications shown below each code (default 12)")
    ev.add_argument("--explain", action="store_true", help="with --format json: add the trace graph as 'explanation'")
    _policy_options(ev)
    bt = sub.add_parser(
        "batch", help="evaluate JSON Lines at scale: streamed, in chunks, optionally over worker processes"
    )
    bt.add_argument("input", metavar="IN", help="a JSON Lines file (gzip accepted), or - for standard input")
    bt.add_argument("-o", "--output", metavar="OUT", help="where to write the results (default: standard output; .gz: compressed)")
    bt.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1: this process)")
    bt.add_argument("--explain", action="store_true", help="add the trace graph to every result as 'explanation'")
    bt.add_argument("--chunk", type=int, default=None, metavar="N",
                    help="encounters grounded together (default 200; 100 with --explain, whose traces are large)")
    bt.add_argument("--quiet", action="store_true", help="no progress bar and no summary on standard error")
    _policy_options(bt)
    batch = sub.add_parser("evaluate-batch", help="evaluate JSON Lines: one encounter per line in, one result per line out")
    batch.add_argument("file", help="a JSON Lines file, or - for standard input")
    _policy_options(batch)
    wi = sub.add_parser("what-if", help="the fewest changes to an encounter after which CODE is valid")
    wi.add_argument("code", metavar="CODE")
    wi.add_argument("file", help="a file holding one encounter object, or - for standard input")
    wi.add_argument("--format", choices=("text", "json"), default="text")
    wi.add_argument("--time-limit", type=float, default=20.0, metavar="SECONDS")
    _policy_options(wi)
    wn = sub.add_parser("why-not", help="why CODE is not in an encounter's code set (or why it is)")
    wn.add_argument("code", metavar="CODE")
    wn.add_argument("file", help="a file holding one encounter object, or - for standard input")
    wn.add_argument("--format", choices=("text", "json"), default="text")
    _policy_options(wn)
    df = sub.add_parser("diff", help="what differs between the results of two encounters: codes, findings, review, rules")
    df.add_argument("before", metavar="A", help="an encounter file (or - for standard input)")
    df.add_argument("after", metavar="B", help="an encounter file")
    df.add_argument("--format", choices=("text", "json"), default="text")
    _policy_options(df)
    data = sub.add_parser("data", help="CMS NCCI tables: import the published files, list the editions held")
    data_sub = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    imp_data = data_sub.add_parser("import", help="read CMS PTP, MUE or add-on code files (the parts of one table) as one edition")
    imp_data.add_argument("paths", nargs="+", metavar="PATH", help="the files (.txt, .csv; gzip accepted)")
    imp_data.add_argument("--table", choices=("ptp", "mue", "aoc"), help="the table (default: recognised from the files)")
    imp_data.add_argument("--effective", metavar="YYYY-MM-DD", help="the date the edition takes effect (default: from the file names)")
    imp_data.add_argument("--edition", metavar="NAME", help="the edition's name (default: TABLE-YYYYMMDD)")
    imp_data.add_argument("--data-dir", metavar="DIR", help="where editions are kept (default: $CPTKB_DATA_DIR, else ~/.local/share/cptkb)")
    list_data = data_sub.add_parser("list", help="the editions held, by table and date")
    list_data.add_argument("--data-dir", metavar="DIR")
    list_data.add_argument("--format", choices=("text", "json"), default="text")
    test = sub.add_parser("test", help="run encounter case files and report each case")
    test.add_argument("paths", nargs="+", help="case files, or directories of *.json case files")
    test.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    test.add_argument("--kb", metavar="DIR", help="a knowledge-base directory (default: the installed one)")
    cov = sub.add_parser("coverage", help="which rules, citations and date periods a case corpus exercises")
    cov.add_argument("paths", nargs="+", help="case files, or directories of *.json case files")
    cov.add_argument("--format", choices=("text", "json"), default="text")
    cov.add_argument("--kb", metavar="DIR", help="a knowledge-base directory (default: the installed one)")
    ver = sub.add_parser("verify", help="check the knowledge base's invariants by search, and its structure")
    ver.add_argument("--invariants", action="append", default=[], metavar="FILE", help="more invariants (repeatable)")
    ver.add_argument("--kb", metavar="DIR", help="a knowledge-base directory (default: the installed one)")
    ver.add_argument("--time-limit", type=float, default=30.0, metavar="SECONDS", help="per invariant")
    ver.add_argument("--format", choices=("text", "json"), default="text")
    imp = sub.add_parser("impact", help="encounters of a corpus whose codes or findings change between two knowledge bases")
    imp.add_argument("--before", required=True, metavar="DIR_OR_GIT_REV", help="a kb directory, or a git revision of this repository")
    imp.add_argument("--after", metavar="DIR", help="a kb directory (default: the installed knowledge base)")
    imp.add_argument("corpus", nargs="+", help="case files, or directories of *.json case files")
    imp.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def _switches(items: list[str], engine: Engine, policy: str | None = None) -> dict[str, bool]:
    out: dict[str, bool] = engine.policy(policy) if policy is not None else {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in engine.vocab.switches or value not in ("on", "off"):
            known = ", ".join(sorted(engine.vocab.switches))
            raise InvalidEncounter("--switch", item, f"NAME=on or NAME=off with NAME one of: {known}")
        out[name] = value == "on"
    return out


def _read(file: str, stdin: TextIO) -> str:
    if file == "-":
        return stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidEncounter("FILE", file, "a readable UTF-8 file holding one encounter", problem=f"cannot read ({exc.__class__.__name__}):") from None


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidEncounter(
            where, text[max(0, exc.pos - 20) : exc.pos + 20], f"valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            problem="malformed JSON near",
        ) from None


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False)


def cmd_evaluate(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    engine = default_engine()
    switches = _switches(args.switch, engine, args.policy)
    encounter = _parse_json(_read(args.file, stdin), "encounter")
    trace = args.format in ("text", "markdown", "dot") or args.explain
    result = engine.evaluate(encounter, switches, trace=trace)
    if args.format == "dot":
        from cptkb.explain.graph import build_graph, render_dot

        out = render_dot(build_graph(result, engine.vocab, args.all_derivations))
    elif args.format == "text" and args.level == "short":
        from cptkb.explain.summary import render_summary

        out = render_summary(result, engine.vocab)
    elif args.format == "text":
        from cptkb.explain.text import render_text

        out = render_text(result, engine.vocab, args.depth)
    elif args.format == "markdown":
        from cptkb.explain.text import render_markdown

        out = render_markdown(result, engine.vocab, args.depth)
    else:
        data = result.to_dict()
        if args.explain:
            from cptkb.explain.graph import build_graph, node_link

            data["explanation"] = node_link(build_graph(result, engine.vocab, args.all_derivations))
        out = _dump(data) + "\n"
    stdout.write(out)
    return EXIT_OK


def _binary(stdin: TextIO) -> Any:
    """Standard input as bytes (a text stream without a byte buffer, as in tests, is encoded)."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is not None:
        return buffer
    import io

    return io.BytesIO(stdin.read().encode("utf-8"))


def cmd_batch(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    """JSON Lines in, one line out per line in; progress and a summary on standard error."""
    from .batch import batch_file

    engine = default_engine()
    switches = _switches(args.switch, engine, args.policy)
    if args.workers < 1:
        raise InvalidEncounter("--workers", args.workers, "a whole number of worker processes, 1 or more")
    if args.chunk is None:
        args.chunk = 100 if args.explain else 200
    if args.chunk < 1:
        raise InvalidEncounter("--chunk", args.chunk, "a whole number of encounters per grounding, 1 or more")
    show = not args.quiet and sys.stderr.isatty()
    stats = batch_file(
        args.input, args.output, args.workers, switches, args.explain, engine, show, args.chunk,
        stdin=_binary(stdin), stdout=stdout,
    )
    if not args.quiet:
        sys.stderr.write(stats.summary() + "\n")
    return EXIT_OK


def cmd_evaluate_batch(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    """JSON Lines in, JSON Lines out; a bad line yields an error object in its place; empty lines are skipped."""
    from .batch import open_input, run_batch

    engine = default_engine()
    switches = _switches(args.switch, engine, args.policy)
    source, _, _ = open_input(args.file, _binary(stdin))
    try:
        run_batch(engine, source, stdout, switches=switches, skip_empty=True)
    finally:
        if args.file != "-":
            source.close()
    return EXIT_OK


def cmd_what_if(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from .whatif import what_if

    engine = default_engine()
    switches = _switches(args.switch, engine, args.policy)
    encounter = _parse_json(_read(args.file, stdin), "encounter")
    answer = what_if(engine, encounter, args.code, switches, args.time_limit)
    stdout.write(_dump(answer.to_dict()) + "\n" if args.format == "json" else answer.to_text())
    return EXIT_OK


def cmd_why_not(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from .whynot import why_not

    engine = default_engine()
    switches = _switches(args.switch, engine, args.policy)
    encounter = _parse_json(_read(args.file, stdin), "encounter")
    answer = why_not(engine, encounter, args.code, switches)
    stdout.write(_dump(answer.to_dict()) + "\n" if args.format == "json" else answer.to_text())
    return EXIT_OK


def cmd_diff(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from .whatif import diff

    engine = default_engine()
    switches = _switches(args.switch, engine, args.policy)
    first = engine.evaluate(_parse_json(_read(args.before, stdin), "A"), switches, trace=True)
    second = engine.evaluate(_parse_json(_read(args.after, stdin), "B"), switches, trace=True)
    d = diff(first, second)
    stdout.write(_dump(d.to_dict()) + "\n" if args.format == "json" else d.to_text())
    return EXIT_OK


def cmd_data(args: argparse.Namespace, stdout: TextIO) -> int:
    from .cmsdata import DataError, DataStore, default_data_dir

    store = DataStore(args.data_dir or default_data_dir())
    if args.data_command == "list":
        editions = store.editions()
        if args.format == "json":
            stdout.write(_dump([e.to_dict() for e in editions]) + "\n")
        elif not editions:
            stdout.write(f"no editions in {store.directory}\n")
        else:
            for e in editions:
                d = e.to_dict()
                stdout.write(f"{d['table']:<4} {d['edition']:<24} from {d['effective']}  {d['rows']:>9,} rows  ({d['files']})\n")
        return EXIT_OK
    effective = None
    if args.effective is not None:
        import datetime as _dt

        try:
            day = _dt.date.fromisoformat(args.effective)
        except ValueError:
            raise InvalidEncounter("--effective", args.effective, "a date written YYYY-MM-DD", problem="not a date:") from None
        effective = day.year * 10000 + day.month * 100 + day.day
    try:
        edition, skipped = store.import_files([Path(p) for p in args.paths], args.table, args.edition, effective)
    except DataError as exc:
        if exc.option == "--effective":
            from .errors import MissingField

            raise MissingField("--effective", f"the date the edition takes effect, YYYY-MM-DD: {exc.reason}") from None
        raise InvalidEncounter("PATH", exc.path, "a CMS NCCI PTP, MUE or add-on code file in its published layout", problem=f"{exc.reason}:") from None
    d = edition.to_dict()
    stdout.write(f"imported {d['table']} edition {d['edition']} (from {d['effective']}): {d['rows']:,} rows from {d['files']}\n")
    for file, line, why in skipped[:20]:
        stdout.write(f"  skipped {file}:{line}: {why}\n")
    if len(skipped) > 20:
        stdout.write(f"  ... and {len(skipped) - 20} more rows skipped\n")
    return EXIT_OK


def _load_cases(paths: list[str]) -> list[Any]:
    from .cases import CaseFileError, case_files, load_cases

    files = case_files([Path(p) for p in paths])
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise InvalidEncounter("PATH", missing[0], "a case file or a directory of case files", problem="no such file")
    cases = []
    for f in files:
        try:
            cases.extend(load_cases(f))
        except CaseFileError as exc:
            raise InvalidEncounter("PATH", str(f), "a case file: {\"cases\": [...]}", problem=f"not a case file ({exc}):") from None
    return cases


def cmd_test(args: argparse.Namespace, stdout: TextIO) -> int:
    """Run case files; print PASS/FAIL per case with the differences; exit 1 when any fails."""
    from .cases import run_case

    engine = Engine(args.kb) if args.kb else default_engine()
    cases = _load_cases(args.paths)
    failed = 0
    for case in cases:
        problems = run_case(engine, case)
        if problems:
            failed += 1
            stdout.write(f"FAIL {case.file.name}: {case.name}\n")
            for p in problems:
                stdout.write(f"     {p}\n")
        elif not args.quiet:
            stdout.write(f"PASS {case.file.name}: {case.name}\n")
    stdout.write(f"{len(cases) - failed} passed, {failed} failed\n")
    return EXIT_OK if failed == 0 else EXIT_FAULT


def cmd_coverage(args: argparse.Namespace, stdout: TextIO) -> int:
    from .coverage import measure

    engine = Engine(args.kb) if args.kb else default_engine()
    report = measure(engine, _load_cases(args.paths))
    stdout.write(_dump(report.to_dict()) + "\n" if args.format == "json" else report.to_text())
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, stdout: TextIO) -> int:
    """Invariants by search and structural checks; exit 1 when anything fails."""
    from .verify import verify

    engine = Engine(args.kb) if args.kb else default_engine()
    extra = [Path(p) for p in args.invariants]
    for p in extra:
        if not p.is_file():
            raise InvalidEncounter("--invariants", str(p), "a file of invariants", problem="no such file")
    report = verify(engine, extra, args.time_limit)
    stdout.write(_dump(report.to_dict()) + "\n" if args.format == "json" else report.to_text())
    return EXIT_OK if report.ok else EXIT_FAULT


def cmd_impact(args: argparse.Namespace, stdout: TextIO) -> int:
    import tempfile

    from .impact import ImpactError, impact, load_before

    cases = _load_cases(args.corpus)
    with tempfile.TemporaryDirectory() as work:
        try:
            before_dir = load_before(args.before, Path.cwd(), Path(work))
        except ImpactError as exc:
            raise InvalidEncounter("--before", args.before, "a kb directory or a git revision", problem=str(exc)) from None
        before = Engine(before_dir)
        after = Engine(args.after) if args.after else default_engine()
        report = impact(before, after, cases)
    stdout.write(_dump(report.to_dict()) + "\n" if args.format == "json" else report.to_text())
    return EXIT_OK


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        if args.command == "evaluate":
            return cmd_evaluate(args, stdin, stdout)
        if args.command == "test":
            return cmd_test(args, stdout)
        if args.command == "coverage":
            return cmd_coverage(args, stdout)
        if args.command == "verify":
            return cmd_verify(args, stdout)
        if args.command == "impact":
            return cmd_impact(args, stdout)
        if args.command == "batch":
            return cmd_batch(args, stdin, stdout)
        if args.command == "what-if":
            return cmd_what_if(args, stdin, stdout)
        if args.command == "why-not":
            return cmd_why_not(args, stdin, stdout)
        if args.command == "diff":
            return cmd_diff(args, stdin, stdout)
        if args.command == "data":
            return cmd_data(args, stdout)
        return cmd_evaluate_batch(args, stdin, stdout)
    except InvalidEncounter as exc:
        what = "invalid encounter" if args.command.startswith("evaluate") else "invalid input"
        sys.stderr.write(f"cptkb: {what}: {exc}\n")
        return EXIT_INVALID
    except (KnowledgeBaseFault, KnowledgeBaseError) as exc:
        sys.stderr.write(f"cptkb: internal fault of the knowledge base: {exc}\n")
        return EXIT_FAULT
    except Exception as exc:  # noqa: BLE001 (a program calling cptkb gets exit 1 and one line, not a traceback)
        sys.stderr.write(f"cptkb: internal error: {exc.__class__.__name__}: {exc}\n")
        return EXIT_FAULT
