"""CMS NCCI tables: reading the published files, keeping every edition, choosing the one in force.

Three practitioner tables, read in the layouts CMS publishes:

- procedure-to-procedure (PTP) edits: tab-delimited text in several parts
  (``ccipra-v321r0-f1.txt`` ... ``-f4``), a few title and copyright lines,
  a header row (Column 1, Column 2, in existence prior to 1996, Effective
  Date, Deletion Date, Modifier indicator, PTP Edit Rationale), then one row
  per pair; dates YYYYMMDD, a deletion date of ``*`` for none;
- medically unlikely edits (MUE): a CSV whose first cell is the AMA notice,
  then the header (HCPCS/CPT Code, Practitioner Services MUE Values, MUE
  Adjudication Indicator, MUE Rationale); the indicator is a digit 1, 2 or 3
  followed by its words ("2 Date of Service Edit: Policy");
- add-on code (AOC) edits: a table with a header naming the add-on code,
  the primary code, the AOC edit type (1, 2 or 3) and the edit's effective
  and deletion dates (tab-delimited or CSV); a primary code of ``CCCCC``
  stands for "any primary the contractor accepts".

``cptkb data import`` reads such files into a local store (SQLite, one
database file in the data directory) as an edition with the date it takes
effect; every edition is kept, and an evaluation uses, per table, the latest
edition in force on the date of service, with only the rows that name the
codes in question. Rows that cannot be read are counted and reported with
their line numbers; they are not loaded.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Sequence

KINDS = ("ptp", "mue", "aoc")
CODE = re.compile(r"^[0-9A-Z]{4}[0-9A-Z]$")
OPEN_END = 99991231


class DataError(ValueError):
    """A CMS file or an import request that cannot be used: ``path`` (or an option) and the reason."""

    def __init__(self, reason: str, path: str = "", option: str = "") -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.reason = reason
        self.path = path
        self.option = option


def default_data_dir() -> Path:
    """``$CPTKB_DATA_DIR``, else ``$XDG_DATA_HOME/cptkb``, else ``~/.local/share/cptkb``."""
    if os.environ.get("CPTKB_DATA_DIR"):
        return Path(os.environ["CPTKB_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cptkb"


@dataclass
class Parsed:
    kind: str
    rows: list[tuple] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


def _date(text: str) -> int | None:
    text = text.strip()
    if text in ("", "*"):
        return OPEN_END
    for pattern, order in ((r"^(\d{4})(\d{2})(\d{2})$", "ymd"), (r"^(\d{4})-(\d{2})-(\d{2})$", "ymd"), (r"^(\d{1,2})/(\d{1,2})/(\d{4})$", "mdy")):
        m = re.match(pattern, text)
        if m:
            a, b, c = (int(x) for x in m.groups())
            y, mo, d = (a, b, c) if order == "ymd" else (c, a, b)
            try:
                date(y, mo, d)
            except ValueError:
                return None
            return y * 10000 + mo * 100 + d
    return None


def parse_ptp(text: str) -> Parsed:
    out = Parsed("ptp")
    for n, line in enumerate(text.splitlines(), 1):
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) < 6 or not CODE.match(parts[0].upper()) or not CODE.match(parts[1].upper()):
            if len(parts) >= 2 and CODE.match(parts[0].upper()):
                out.skipped.append((n, "a row with fewer than six tab-separated fields"))
            continue  # title, notice and header lines
        eff, dele = _date(parts[3]), _date(parts[4])
        if eff is None or eff == OPEN_END:
            out.skipped.append((n, f"effective date {parts[3]!r} is not YYYYMMDD"))
            continue
        if dele is None:
            out.skipped.append((n, f"deletion date {parts[4]!r} is not YYYYMMDD or *"))
            continue
        if parts[5] not in ("0", "1", "9"):
            out.skipped.append((n, f"modifier indicator {parts[5]!r} is not 0, 1 or 9"))
            continue
        rationale = parts[6] if len(parts) > 6 else ""
        out.rows.append((parts[0].upper(), parts[1].upper(), eff, dele, int(parts[5]), rationale))
    return out


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """(the number of the line the record ends on, its cells) for each CSV or tab-separated record."""
    dialect = "excel-tab" if text.count("\t") > text.count(",") else "excel"
    reader = csv.reader(io.StringIO(text), dialect=dialect)
    return [(reader.line_num, row) for row in reader]


def _norm(cell: str) -> str:
    return re.sub(r"[^a-z0-9]", "", cell.lower())


def _cell(row: list[str], j: int | None) -> str:
    return row[j].strip() if j is not None and j < len(row) else ""


def _records(text: str, find_header: Callable[[list[str]], dict[str, int | None] | None],
             missing: str) -> Iterator[tuple[int, dict[str, int | None], list[str]]]:
    """(line number, header, cells) of each non-empty record after the header row, the first row whose
    normalised cells ``find_header`` recognises (CMS files open with title and notice rows)."""
    header = None
    for line_no, row in _csv_rows(text):
        if header is None:
            header = find_header([_norm(c) for c in row])
        elif any(c.strip() for c in row):
            yield line_no, header, row
    if header is None:
        raise DataError(missing)


def _mue_header(names: list[str]) -> dict[str, int | None] | None:
    if not (any(n.startswith("hcpcs") for n in names) and any("muevalue" in n for n in names)):
        return None
    return {
        "code": next(j for j, n in enumerate(names) if n.startswith("hcpcs")),
        "units": next(j for j, n in enumerate(names) if "muevalue" in n),
        "mai": next((j for j, n in enumerate(names) if "adjudication" in n), None),
        "rationale": next((j for j, n in enumerate(names) if "rationale" in n), None),
    }


def parse_mue(text: str) -> Parsed:
    out = Parsed("mue")
    missing = "no MUE header row (HCPCS/CPT Code, Practitioner Services MUE Values, MUE Adjudication Indicator)"
    for line_no, header, row in _records(text, _mue_header, missing):
        code = _cell(row, header["code"]).upper()
        if not CODE.match(code):
            out.skipped.append((line_no, f"code {code!r} is not a five-character HCPCS/CPT code"))
            continue
        units_text = _cell(row, header["units"])
        if not units_text.isdigit():
            out.skipped.append((line_no, f"MUE value {units_text!r} is not a whole number"))
            continue
        mai_text = _cell(row, header["mai"])
        if mai_text[:1] not in ("1", "2", "3"):
            out.skipped.append((line_no, f"adjudication indicator {mai_text!r} does not start with 1, 2 or 3"))
            continue
        out.rows.append((code, int(units_text), int(mai_text[0]), _cell(row, header["rationale"])))
    return out


def _aoc_header(names: list[str]) -> dict[str, int | None] | None:
    addon = next((j for j, n in enumerate(names) if n in ("addoncode", "aoc", "addon", "aoccode")), None)
    primary = next((j for j, n in enumerate(names) if n.startswith("primarycode") and "del" not in n and "dt" not in n), None)
    if addon is None or primary is None:
        return None
    return {
        "addon": addon,
        "primary": primary,
        "type": next((j for j, n in enumerate(names) if "edittype" in n), None),
        "eff": next((j for j, n in enumerate(names) if "editeff" in n), None),
        "del": next((j for j, n in enumerate(names) if "editdel" in n), None),
    }


def parse_aoc(text: str) -> Parsed:
    out = Parsed("aoc")
    missing = "no add-on code header row (Add-On Code, Primary Code, AOC Edit Type)"
    for line_no, header, row in _records(text, _aoc_header, missing):
        addon_code, primary_code = _cell(row, header["addon"]).upper(), _cell(row, header["primary"]).upper()
        if not CODE.match(addon_code) or not CODE.match(primary_code):
            out.skipped.append((line_no, f"codes {addon_code!r}, {primary_code!r} are not five-character HCPCS/CPT codes"))
            continue
        kind = _cell(row, header["type"])
        if kind not in ("1", "2", "3"):
            out.skipped.append((line_no, f"AOC edit type {kind!r} is not 1, 2 or 3"))
            continue
        eff = _date(_cell(row, header["eff"])) if header["eff"] is not None else 19000101
        dele = _date(_cell(row, header["del"])) if header["del"] is not None else OPEN_END
        if eff is None or dele is None:
            out.skipped.append((line_no, "an edit date is not a date"))
            continue
        out.rows.append((addon_code, "*" if primary_code == "CCCCC" else primary_code, int(kind), eff, dele))
    return out


def detect_kind(text: str) -> str | None:
    head = _norm(text[:4000])
    if "column1" in head and "column2" in head:
        return "ptp"
    if "muevalue" in head:
        return "mue"
    if "primarycode" in head and ("addon" in head or "aoc" in head):
        return "aoc"
    return None


def effective_from_name(name: str) -> int | None:
    """The date a file takes effect, where its CMS name says it: ``Eff_10-01-2025`` or ``V2025Q4``."""
    m = re.search(r"Eff_(\d{2})-(\d{2})-(\d{4})", name, re.IGNORECASE)
    if m:
        mo, d, y = (int(x) for x in m.groups())
        return y * 10000 + mo * 100 + d
    m = re.search(r"(\d{4})[_-]?Q([1-4])", name, re.IGNORECASE)
    if m:
        y, q = int(m.group(1)), int(m.group(2))
        return y * 10000 + (3 * q - 2) * 100 + 1
    return None


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        import gzip

        raw = gzip.decompress(raw)
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError("not text", str(path))


# --- the store ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Edition:
    kind: str
    name: str
    effective: int  # YYYYMMDD
    rows: int
    files: str

    def to_dict(self) -> dict[str, object]:
        e = self.effective
        return {"table": self.kind, "edition": self.name, "effective": f"{e // 10000:04d}-{e // 100 % 100:02d}-{e % 100:02d}", "rows": self.rows, "files": self.files}


class DataStore:
    """The editions of the CMS tables a user has imported (one SQLite file in the data directory)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "ncci.sqlite"
        self._db: sqlite3.Connection | None = None
        self._editions: list[Edition] | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.executescript(
                """
                CREATE TABLE IF NOT EXISTS editions (kind TEXT, name TEXT, effective INTEGER, rows INTEGER, files TEXT,
                                                     PRIMARY KEY (kind, name));
                CREATE TABLE IF NOT EXISTS ptp (edition TEXT, col1 TEXT, col2 TEXT, eff INTEGER, del INTEGER, mi INTEGER, rationale TEXT);
                CREATE INDEX IF NOT EXISTS ptp_by_code ON ptp (edition, col1, col2);
                CREATE TABLE IF NOT EXISTS mue (edition TEXT, code TEXT, units INTEGER, mai INTEGER, rationale TEXT);
                CREATE INDEX IF NOT EXISTS mue_by_code ON mue (edition, code);
                CREATE TABLE IF NOT EXISTS aoc (edition TEXT, addon TEXT, primary_code TEXT, type INTEGER, eff INTEGER, del INTEGER);
                CREATE INDEX IF NOT EXISTS aoc_by_code ON aoc (edition, addon);
                """
            )
        return self._db

    def editions(self) -> list[Edition]:
        if self._editions is None:
            if not self.exists():
                self._editions = []
            else:
                rows = self.db().execute("SELECT kind, name, effective, rows, files FROM editions ORDER BY kind, effective, name")
                self._editions = [Edition(*r) for r in rows]
        return self._editions

    def in_force(self, kind: str, day: int) -> Edition | None:
        """The latest edition of ``kind`` that took effect on or before ``day``."""
        best = None
        for e in self.editions():
            if e.kind == kind and e.effective <= day and (best is None or (e.effective, e.name) > (best.effective, best.name)):
                best = e
        return best

    def rows(self, kind: str, edition: str, codes: Sequence[str]) -> list[tuple]:
        """The rows of ``edition`` that name only codes of ``codes`` (both codes, for a pair)."""
        codes = sorted(set(codes))
        if not codes:
            return []
        marks = ",".join("?" * len(codes))
        db = self.db()
        if kind == "ptp":
            q = f"SELECT col1, col2, eff, del, mi FROM ptp WHERE edition = ? AND col1 IN ({marks}) AND col2 IN ({marks}) ORDER BY col1, col2, eff"
            return list(db.execute(q, [edition, *codes, *codes]))
        if kind == "mue":
            q = f"SELECT code, units, mai FROM mue WHERE edition = ? AND code IN ({marks}) ORDER BY code"
            return list(db.execute(q, [edition, *codes]))
        q = f"SELECT addon, primary_code, type, eff, del FROM aoc WHERE edition = ? AND addon IN ({marks}) ORDER BY addon, primary_code"
        return list(db.execute(q, [edition, *codes]))

    def import_files(self, paths: Iterable[Path], kind: str | None = None, edition: str | None = None,
                     effective: int | None = None) -> tuple[Edition, list[tuple[str, int, str]]]:
        """Read CMS files of one table into one edition; returns it and the rows skipped (file, line, why)."""
        paths = [Path(p) for p in paths]
        texts = {}
        for p in paths:
            if not p.is_file():
                raise DataError("no such file", str(p))
            texts[p] = _read_text(p)
        kinds = {p: kind or detect_kind(t) for p, t in texts.items()}
        unknown = [str(p) for p, k in kinds.items() if k is None]
        if unknown:
            raise DataError("not a PTP, MUE or add-on code table in a CMS layout (or say --table ptp|mue|aoc)", unknown[0])
        if len(set(kinds.values())) != 1:
            raise DataError("the files of one import must be parts of one table: " + ", ".join(f"{p.name} ({k})" for p, k in kinds.items()), str(paths[0]))
        table = next(iter(kinds.values()))
        if effective is None:
            found = {effective_from_name(p.name) for p in paths} - {None}
            if len(found) != 1:
                raise DataError(f"the file names ({', '.join(p.name for p in paths)}) do not say when the edition takes effect", option="--effective")
            effective = found.pop()
        name = edition or f"{table}-{effective}"
        parser = {"ptp": parse_ptp, "mue": parse_mue, "aoc": parse_aoc}[table]
        rows: list[tuple] = []
        skipped: list[tuple[str, int, str]] = []
        for p, t in texts.items():
            try:
                parsed = parser(t)
            except DataError as exc:
                raise DataError(exc.reason, str(p)) from None
            rows += parsed.rows
            skipped += [(str(p), n, why) for n, why in parsed.skipped]
        if not rows:
            raise DataError(f"no {table} rows could be read", str(paths[0]))
        db = self.db()
        with db:
            db.execute("DELETE FROM editions WHERE kind = ? AND name = ?", (table, name))
            db.execute(f"DELETE FROM {table} WHERE edition = ?", (name,))
            width = len(rows[0]) + 1
            db.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * width)})", [(name, *r) for r in rows])
            files = ", ".join(p.name for p in paths)
            db.execute("INSERT INTO editions VALUES (?, ?, ?, ?, ?)", (table, name, effective, len(rows), files))
        self._editions = None
        return Edition(table, name, effective, len(rows), ", ".join(p.name for p in paths)), skipped


__all__ = ["DataError", "DataStore", "Edition", "KINDS", "default_data_dir", "detect_kind", "parse_aoc", "parse_mue", "parse_ptp"]
