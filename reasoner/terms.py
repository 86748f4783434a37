"""Reading a model's atoms quickly: clingo symbols as interned Python terms.

Reading a shown atom through clingo's Python symbol objects costs several
calls into the C library per argument (name, arguments, string, text), a few
microseconds each; with the trace on, an encounter shows about a hundred
nested atoms. :class:`Term` mirrors the parts of :class:`clingo.Symbol` the
result and the explanation use (``type``, ``name``, ``arguments``,
``number``, ``string``, ``str()``, ordering, hashing and equality, also
against clingo symbols) as plain Python values, read once per distinct
symbol and interned by the symbol's value.

Interning by value is sound because clingo 5 keeps every symbol it has made
for the life of the process (potassco/clingo issue 203): a symbol's value
names one term for good. The table is bounded (:data:`TABLE_LIMIT`) and
emptied when full; entries are rebuilt on demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import clingo
from clingo._internal import _ffi, _handle_error, _lib

_NUMBER = int(_lib.clingo_symbol_type_number)
_STRING = int(_lib.clingo_symbol_type_string)
_FUNCTION = int(_lib.clingo_symbol_type_function)
_TYPES = {
    _NUMBER: clingo.SymbolType.Number,
    _STRING: clingo.SymbolType.String,
    _FUNCTION: clingo.SymbolType.Function,
    int(_lib.clingo_symbol_type_infimum): clingo.SymbolType.Infimum,
    int(_lib.clingo_symbol_type_supremum): clingo.SymbolType.Supremum,
}

TABLE_LIMIT = 100_000


def quote(text: str) -> str:
    """A string as clingo writes a string symbol: in double quotes, with \\, " and newlines escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Term:
    """A clingo symbol as an immutable Python value (see the module documentation)."""

    __slots__ = ("_rep", "type", "name", "arguments", "number", "string", "negative", "_hash", "_text")

    _rep: int
    type: clingo.SymbolType
    name: str
    arguments: tuple[Term, ...]
    number: int
    string: str
    negative: bool

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Term, clingo.Symbol)):
            return self._rep == other._rep
        return NotImplemented

    def __lt__(self, other: Term | clingo.Symbol) -> bool:
        return bool(_lib.clingo_symbol_is_less_than(self._rep, other._rep))

    def __gt__(self, other: Term | clingo.Symbol) -> bool:
        return bool(_lib.clingo_symbol_is_less_than(other._rep, self._rep))

    @property
    def positive(self) -> bool:
        return not self.negative

    def __str__(self) -> str:
        text = self._text
        if text is None:
            if self.type is clingo.SymbolType.Function:
                inner = ",".join(str(a) for a in self.arguments)
                if not self.name:
                    text = f"({inner},)" if len(self.arguments) == 1 else f"({inner})"
                else:
                    text = f"{self.name}({inner})" if self.arguments else self.name
                if self.negative:
                    text = "-" + text
            elif self.type is clingo.SymbolType.Number:
                text = str(self.number)
            elif self.type is clingo.SymbolType.String:
                text = quote(self.string)
            else:
                text = "#inf" if self.type is clingo.SymbolType.Infimum else "#sup"
            self._text = text
        return text

    def __repr__(self) -> str:
        return f"Term({self})"

    def symbol(self) -> clingo.Symbol:
        """The clingo symbol this term reads."""
        return clingo.Symbol(self._rep)  # type: ignore[call-arg]


_TABLE: dict[int, Term] = {}


def _blank(rep: int, kind: clingo.SymbolType) -> Term:
    """A new term of the symbol ``rep``, of type ``kind``, its parts empty (the table emptied first
    if it is full; the caller fills the parts, the hash, and puts the term in the table)."""
    if len(_TABLE) >= TABLE_LIMIT:
        _TABLE.clear()
    t = Term.__new__(Term)
    t._rep = rep
    t.type = kind
    t.name = ""
    t.arguments = ()
    t.number = 0
    t.string = ""
    t.negative = False
    t._text = None
    return t


def term(rep: int) -> Term:
    """The term of the clingo symbol with value ``rep``."""
    t = _TABLE.get(rep)
    if t is not None:
        return t
    kind = _lib.clingo_symbol_type(rep)
    t = _blank(rep, _TYPES[kind])
    if kind == _FUNCTION:
        p_name = _ffi.new("char**")
        _handle_error(_lib.clingo_symbol_name(rep, p_name))
        t.name = _ffi.string(p_name[0]).decode()
        p_args = _ffi.new("clingo_symbol_t**")
        p_size = _ffi.new("size_t*")
        _handle_error(_lib.clingo_symbol_arguments(rep, p_args, p_size))
        args = p_args[0]
        t.arguments = tuple(term(args[i]) for i in range(p_size[0]))
        p_neg = _ffi.new("bool*")
        _handle_error(_lib.clingo_symbol_is_negative(rep, p_neg))
        t.negative = bool(p_neg[0])
    elif kind == _NUMBER:
        p_num = _ffi.new("int*")
        _handle_error(_lib.clingo_symbol_number(rep, p_num))
        t.number = p_num[0]
    elif kind == _STRING:
        p_str = _ffi.new("char**")
        _handle_error(_lib.clingo_symbol_string(rep, p_str))
        t.string = _ffi.string(p_str[0]).decode()
    t._hash = _lib.clingo_symbol_hash(rep)
    _TABLE[rep] = t
    return t


def of(symbol: clingo.Symbol | Term) -> Term:
    """The term of a clingo symbol (a term is returned as it is)."""
    if isinstance(symbol, Term):
        return symbol
    return term(symbol._rep)


def shown_values(model: clingo.Model) -> list[int]:
    """The values of the model's shown symbols, in one call into clingo."""
    return _model_values(model, _lib.clingo_show_type_shown)


def atom_values(model: clingo.Model) -> list[int]:
    """The values of all the model's atoms, in one call into clingo."""
    return _model_values(model, _lib.clingo_show_type_atoms)


def _model_values(model: clingo.Model, show: int) -> list[int]:
    p_size = _ffi.new("size_t*")
    _handle_error(_lib.clingo_model_symbols_size(model._rep, show, p_size))
    size = p_size[0]
    p_symbols = _ffi.new("clingo_symbol_t[]", size)
    _handle_error(_lib.clingo_model_symbols(model._rep, show, p_symbols, size))
    return list(p_symbols)


def add_statements(builder: Any, statements: Sequence[Any]) -> None:
    """Add parsed statements (clingo.ast nodes) through an open ``clingo.ast.ProgramBuilder``, one
    call into clingo each (ProgramBuilder.add wraps the same call in Python)."""
    add, rep = _lib.clingo_program_builder_add, builder._rep
    for stm in statements:
        if not add(rep, stm._rep):
            _handle_error(False)


_C_NAMES: dict[str, Any] = {}  # each function name as a C string, made once for the process


def _c_name(name: str) -> Any:
    """``name`` as a C string for clingo_symbol_create_function (made once, kept)."""
    c_name = _C_NAMES.get(name)
    if c_name is None:
        c_name = _C_NAMES[name] = _ffi.new("char[]", name.encode())
    return c_name


class FactWriter:
    """Adds ground facts to a control's backend with one call per step into clingo.

    ``add(name, arguments)`` makes the atom ``name(arguments...)`` true; the
    arguments are clingo symbols or terms (never program text).
    """

    def __init__(self, backend: clingo.Backend) -> None:
        self._backend = backend._rep
        self._sym = _ffi.new("clingo_symbol_t*")
        self._atom = _ffi.new("clingo_atom_t[1]")
        self._args = _ffi.new("clingo_symbol_t[]", 16)

    def add(self, name: str, arguments: Sequence[clingo.Symbol | Term]) -> None:
        c_name = _C_NAMES.get(name) or _c_name(name)
        n = len(arguments)
        c_args = self._args if n <= 16 else _ffi.new("clingo_symbol_t[]", n)
        c_args[0:n] = [a._rep for a in arguments]
        backend, sym, atom = self._backend, self._sym, self._atom
        if not (
            _lib.clingo_symbol_create_function(c_name, c_args, n, True, sym)
            and _lib.clingo_backend_add_atom(backend, sym, atom)
            and _lib.clingo_backend_rule(backend, False, atom, 1, _ffi.NULL, 0)
        ):
            _handle_error(False)

    def add_atoms(self, atoms: Sequence[clingo.Symbol]) -> None:
        """Make each of the ground ``atoms`` (clingo symbols) true."""
        backend, sym, atom = self._backend, self._sym, self._atom
        add_atom, rule, null = _lib.clingo_backend_add_atom, _lib.clingo_backend_rule, _ffi.NULL
        for a in atoms:
            sym[0] = a._rep
            if not add_atom(backend, sym, atom) or not rule(backend, False, atom, 1, null, 0):
                _handle_error(False)


def function(name: str, arguments: Sequence[int]) -> int:
    """The symbol value of the function (or tuple, with name "") ``name(arguments...)``, its arguments
    given as symbol values: one call into clingo (clingo.Function makes a Python symbol per argument
    and costs several)."""
    c_name = _C_NAMES.get(name) or _c_name(name)
    p_symbol = _ffi.new("clingo_symbol_t*")
    if not _lib.clingo_symbol_create_function(c_name, arguments, len(arguments), True, p_symbol):
        _handle_error(False)
    return p_symbol[0]


def function_term(name: str, arguments: tuple[Term, ...]) -> Term:
    """The term of the function (or tuple, with name "") ``name(arguments...)``: the symbol made in
    clingo (one call), and its term made from the parts at hand, not read back from the symbol."""
    rep = function(name, [a._rep for a in arguments])
    t = _TABLE.get(rep)
    if t is not None:
        return t
    t = _blank(rep, clingo.SymbolType.Function)
    t.name = name
    t.arguments = arguments
    t._hash = _lib.clingo_symbol_hash(rep)
    _TABLE[rep] = t
    return t


class AtomReader:
    """Reads the atoms of a model: each atom's name and its arguments' symbol values, two calls into
    clingo per atom. A reader has buffers of its own, so that evaluations in different threads do
    not share them: make one per evaluation."""

    def __init__(self) -> None:
        self._p_name = _ffi.new("char**")
        self._p_args = _ffi.new("clingo_symbol_t**")
        self._p_size = _ffi.new("size_t*")

    def parts(self, rep: int) -> tuple[str, tuple[int, ...]]:
        """The name and the arguments' symbol values of the atom ``rep``."""
        p_name, p_args, p_size = self._p_name, self._p_args, self._p_size
        if not _lib.clingo_symbol_name(rep, p_name) or not _lib.clingo_symbol_arguments(rep, p_args, p_size):
            _handle_error(False)
        c_name = p_name[0]  # a name's text is kept by clingo for good: its address names it
        name = _NAMES.get(c_name)
        if name is None:
            name = _NAMES[c_name] = _ffi.string(c_name).decode()
        size = p_size[0]
        return name, tuple(_ffi.unpack(p_args[0], size)) if size else ()


_NAMES: dict[Any, str] = {}  # by the address of the name's text (a cdata char*)
# the same by the address as a number (read so by Engine._batch_atoms, which makes no object per atom)
NAMES_AT: dict[int, str] = {}

