r"""The condition language of recommendation rules: small, typed, and never ``eval``.

A rule's ``when`` is one line such as::

    devices.total >= 2 and calendars in ['sync', 'share']
    not offers.pop3
    organisation == 'enterprise' or microsoft != 'none'
    exchange.hosted == 'on-premises' and 'new-outlook' in clients
    not (offline or devices.total == 1)

It is read by a hand-written tokenizer and recursive-descent parser into an
immutable tree, then evaluated against a plain mapping of names to values.
There is no attribute access, no call, no arithmetic: a name is only a key of
that mapping.

Grammar (``*`` repeats, ``?`` is optional, ``|`` separates choices)::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") operand)?
    operand    := NAME | literal | "(" expr ")" | "[" (literal ("," literal)*)? "]"
    literal    := NUMBER | STRING | "true" | "false" | "null"
    NAME       := [a-z_][a-z0-9_]* ("." [a-z_][a-z0-9_]*)*    devices.total, offers.imap
    NUMBER     := [0-9]+ ("." [0-9]+)?                          2, 0.5 (no sign, no exponent)
    STRING     := '...' or "..."; the only escapes are \\ \' and \"

So ``not`` binds tighter than ``and``, which binds tighter than ``or``:
``not a and b or c`` means ``((not a) and b) or c``. Comparisons do not chain
(``1 < n < 3`` is refused: write ``1 < n and n < 3``). ``and``, ``or``,
``not``, ``in``, ``true``, ``false`` and ``null`` are keywords, lower case
like names, and cannot be part of a name. Spaces, tabs and line breaks
between tokens are ignored; a column counts characters from the start of the
text, 1-based.

Values and types. A value is a boolean (``bool``), a number (``int`` or
``float``, never ``bool``), a string (``str``), null (``None``) or a list (a
``tuple``, ``list`` or ``frozenset`` of strings, e.g. ``clients``); a list
literal holds literals of one type, plus ``null`` if wanted. The rules are
strict, so a typo in a rule fails loudly instead of quietly being false:

- ``and``, ``or``, ``not``, and a whole condition, need booleans: a bare
  ``devices.total`` or ``microsoft`` is an error, and so is a null.
- ``<``, ``<=``, ``>``, ``>=`` compare two numbers.
- ``==`` and ``!=`` compare two values of the same type; either side may be
  ``null`` (``microsoft == null`` is true only when it is null, and
  ``x == 'a'`` is simply false when ``x`` is null). Numbers compare by value
  (``2 == 2.0``); lists compare as sets (``clients == []``).
- ``x in list`` and ``x not in list`` need a single value on the left and a
  list literal or a list-valued name on the right; a null ``x`` is in no list
  except one that holds ``null``.

``and`` and ``or`` short-circuit, left to right: in
``offers.exchange and exchange.hosted == 'microsoft365'`` the right side is
not looked at when ``offers.exchange`` is false. Callers give every name a
value (``None`` when unknown), so a missing name is an error whenever it is
reached, and :func:`check_types` checks every name at load time anyway.

Errors: everything raises :class:`ExprError`, one line with the column where
the problem is, e.g. ``unexpected 'xyz' at column 12``, ``unterminated string
at column 5``, ``expected ')' at column 9 (to close the '(' at column 1)``,
``unknown name 'devicez' at column 1 (did you mean 'devices.total'?)``,
``devices.total at column 1 is a number, not a boolean``.

API: :func:`parse` (text to :class:`Expr`), :meth:`Expr.evaluate`,
:meth:`Expr.names`, :meth:`Expr.canonical`, and :func:`check_types`, run when
rules are loaded. The tree (:class:`Name`, :class:`Constant`,
:class:`ListLiteral`, :class:`Not`, :class:`And`, :class:`Or`,
:class:`Compare`) is frozen dataclasses.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import Enum, StrEnum
from typing import assert_never

from advisor.errors import AdvisorError

# A condition is one line a person writes in a TOML file; ten times the longest
# we expect. It also keeps any number literal far below the 4,300 digits that
# int() refuses.
MAX_LENGTH = 2000
# Each '(' and each 'not' opens a level. Parsing, checking and evaluating recurse
# a few Python frames per level, so this keeps them far below the interpreter's
# limit (1,000 frames) whatever the input; real conditions nest two or three deep.
MAX_DEPTH = 32

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})


class ExprError(AdvisorError):
    """A condition that does not parse, or whose names or types do not fit.

    ``str(error)`` is one line for people; ``column`` is the 1-based position in
    the condition it points at, or ``None`` when no single place is to blame.
    """

    def __init__(self, message: str, *, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


class Kind(StrEnum):
    """The types of the language."""

    BOOLEAN = "boolean"
    NUMBER = "number"
    STRING = "string"
    NULL = "null"
    LIST = "list"


_A = {
    Kind.BOOLEAN: "a boolean",
    Kind.NUMBER: "a number",
    Kind.STRING: "a string",
    Kind.NULL: "null",
    Kind.LIST: "a list",
}
_PLURAL = {
    Kind.BOOLEAN: "booleans",
    Kind.NUMBER: "numbers",
    Kind.STRING: "strings",
    Kind.NULL: "nulls",
    Kind.LIST: "lists",
}
_SCALARS = frozenset({Kind.BOOLEAN, Kind.NUMBER, Kind.STRING, Kind.NULL})

Scalar = bool | int | float | str | None


def _kind_of(value: object) -> Kind | None:
    """The language type of a Python value, or ``None`` if the language has none."""
    if value is None:
        return Kind.NULL
    if isinstance(value, bool):  # before int: bool is a subclass of int
        return Kind.BOOLEAN
    if isinstance(value, int | float):
        return Kind.NUMBER
    if isinstance(value, str):
        return Kind.STRING
    if isinstance(value, tuple | list | frozenset | set):
        return Kind.LIST
    return None


# --- The tree -------------------------------------------------------------------------
# Columns are where a node starts in the text (for a parenthesised group: its '(');
# they take no part in equality, so a tree equals the tree of its canonical text.


class CompareOp(StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not in"


_ORDERING = frozenset({CompareOp.LT, CompareOp.LE, CompareOp.GT, CompareOp.GE})


@dataclass(frozen=True, slots=True)
class Name:
    path: str
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Constant:
    value: Scalar
    column: int = field(default=0, compare=False)
    # Part of equality so that true != 1 and null != ... (True == 1 in Python).
    kind: Kind = field(init=False, repr=False)

    def __post_init__(self) -> None:
        kind = _kind_of(self.value)
        if kind not in _SCALARS:
            raise TypeError(f"a constant is a bool, int, float, str or None, not {self.value!r}")
        object.__setattr__(self, "kind", kind)


@dataclass(frozen=True, slots=True)
class ListLiteral:
    items: tuple[Constant, ...]
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]  # two or more
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]  # two or more
    column: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    left: Node
    right: Node
    column: int = field(default=0, compare=False)
    op_column: int = field(default=0, compare=False)


Node = Name | Constant | ListLiteral | Not | And | Or | Compare


@dataclass(frozen=True)
class Expr:
    """A parsed condition: the text as written and its tree. Build it with :func:`parse`."""

    source: str
    tree: Node = field(repr=False)

    def names(self) -> frozenset[str]:
        """Every name the condition uses, reached or not."""
        return frozenset(_names(self.tree))

    def evaluate(self, values: Mapping[str, object]) -> bool:
        """True or false for these values; :class:`ExprError` on a type error or missing name."""
        return _truth(self.tree, values)

    def canonical(self) -> str:
        """The condition with normalised spacing and quoting and only the needed parentheses.

        ``parse(e.canonical()).tree == e.tree``: handy for showing a rule in a report.
        """
        return _unparse(self.tree)

    def __str__(self) -> str:
        return self.source


# --- Tokens ---------------------------------------------------------------------------


class _T(Enum):
    NAME = "name"
    NUMBER = "number"
    STRING = "string"
    KEYWORD = "keyword"
    OPERATOR = "operator"
    PUNCTUATION = "punctuation"
    END = "end"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _T
    text: str  # as written
    column: int
    value: Scalar = None  # NUMBER and STRING: the value

    def is_(self, kind: _T, text: str) -> bool:
        return self.kind is kind and self.text == text


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NAME = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*")
_NUMBER_RUN = re.compile(r"[0-9][A-Za-z0-9_.]*")  # what a person meant as one number
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")  # longest first
_PUNCTUATION = "()[],"
_SPACE = " \t\r\n"
_ESCAPED = ("\\", "'", '"')
# What people coming from Python, SQL or C type by habit, and what to write instead.
_HINTS = {
    "=": "use '==' to compare",
    "!": "use 'not' to negate or '!=' to compare",
    "&": "use 'and'",
    "|": "use 'or'",
    "-": "conditions have no arithmetic and no negative numbers",
    "+": "conditions have no arithmetic",
    "is": "use '==' or '!='",
}
_LIST_HINT = "a list holds only numbers, strings, true, false and null"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(message: str, column: int, hint: str | None = None) -> ExprError:
    """``message at column N (hint)``: the one format of positioned errors."""
    text = f"{message} at column {column}"
    return ExprError(f"{text} ({hint})" if hint else text, column=column)


def _unexpected(token: _Token, hint: str | None = None) -> ExprError:
    if token.kind is _T.END:
        return _fail("unexpected end of condition", token.column, hint)
    return _fail(f"unexpected {_short(token.text)!r}", token.column, hint or _HINTS.get(token.text))


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char, column = text[i], i + 1
        if char in _SPACE:
            i += 1
        elif match := _WORD.match(text, i):
            word = match.group()
            if not _NAME.fullmatch(word):
                raise _fail(
                    f"unexpected {_short(word)!r}", column, "names and keywords are lower case"
                )
            if word in KEYWORDS:
                tokens.append(_Token(_T.KEYWORD, word, column))
            else:
                for part in word.split("."):
                    if part in KEYWORDS:
                        raise _fail(
                            f"{_short(word)!r} uses the keyword {part!r} as part of a name", column
                        )
                tokens.append(_Token(_T.NAME, word, column))
            i = match.end()
        elif match := _NUMBER_RUN.match(text, i):
            run = match.group()
            if not _NUMBER.fullmatch(run):
                raise _fail(f"malformed number {_short(run)!r}", column)
            # float() first: a 400-digit integer is a valid int, but comparing it with a
            # float fact (a size in GB) raises OverflowError; as a float it is inf.
            if not math.isfinite(float(run)):
                raise _fail(f"number {_short(run)!r} is too large", column)
            number = float(run) if "." in run else int(run)
            tokens.append(_Token(_T.NUMBER, run, column, number))
            i = match.end()
        elif char in "'\"":
            token = _string(text, i)
            tokens.append(token)
            i += len(token.text)
        elif operator := next((op for op in _OPERATORS if text.startswith(op, i)), None):
            tokens.append(_Token(_T.OPERATOR, operator, column))
            i += len(operator)
        elif char in _PUNCTUATION:
            tokens.append(_Token(_T.PUNCTUATION, char, column))
            i += 1
        else:
            raise _fail(f"unexpected {char!r}", column, _HINTS.get(char))
    tokens.append(_Token(_T.END, "", len(text) + 1))
    return tokens


def _string(text: str, start: int) -> _Token:
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == quote:
            return _Token(_T.STRING, text[start : i + 1], start + 1, "".join(chars))
        if char == "\\":
            escaped = text[i + 1 : i + 2]
            if not escaped:
                break
            if escaped not in _ESCAPED:
                shown = f"'\\{escaped}'" if escaped.isprintable() else repr(char + escaped)
                raise _fail(
                    f"unsupported escape {shown} in a string",
                    i + 1,
                    "only \\\\, \\' and \\\" are escapes",
                )
            chars.append(escaped)
            i += 2
        else:
            chars.append(char)
            i += 1
    raise _fail("unterminated string", start + 1)


# --- Parser ---------------------------------------------------------------------------


def parse(text: str) -> Expr:
    """Parse a condition, or raise :class:`ExprError` saying what is wrong and where."""
    if len(text) > MAX_LENGTH:
        raise ExprError(
            f"the condition is {len(text)} characters long; at most {MAX_LENGTH} are allowed"
        )
    tokens = _tokenize(text)
    if tokens[0].kind is _T.END:
        raise ExprError("the condition is empty")
    return Expr(text, _Parser(tokens).parse())


def _comparison_op(tokens: list[_Token], at: int) -> tuple[CompareOp, int] | None:
    """The comparison operator at ``tokens[at]`` and how many tokens it takes."""
    token = tokens[at]
    if token.kind is _T.OPERATOR:
        return CompareOp(token.text), 1
    if token.is_(_T.KEYWORD, "in"):
        return CompareOp.IN, 1
    if token.is_(_T.KEYWORD, "not") and tokens[at + 1].is_(_T.KEYWORD, "in"):
        return CompareOp.NOT_IN, 2
    return None


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens  # ends with END, which is never consumed
        self._at = 0
        self._depth = 0

    def _peek(self) -> _Token:
        return self._tokens[self._at]

    def _next(self) -> _Token:
        token = self._tokens[self._at]
        if token.kind is not _T.END:
            self._at += 1
        return token

    def _enter(self, token: _Token) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _fail(f"nesting deeper than {MAX_DEPTH} levels", token.column)

    def parse(self) -> Node:
        node = self._or()
        token = self._peek()
        if token.kind is not _T.END:
            raise _unexpected(token)
        return node

    def _or(self) -> Node:
        operands = [self._and()]
        while self._peek().is_(_T.KEYWORD, "or"):
            self._next()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands), operands[0].column)

    def _and(self) -> Node:
        operands = [self._not()]
        while self._peek().is_(_T.KEYWORD, "and"):
            self._next()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else And(tuple(operands), operands[0].column)

    def _not(self) -> Node:
        token = self._peek()
        if not token.is_(_T.KEYWORD, "not"):
            return self._comparison()
        self._next()
        self._enter(token)
        operand = self._not()
        self._depth -= 1
        return Not(operand, token.column)

    def _comparison(self) -> Node:
        left = self._operand()
        found = _comparison_op(self._tokens, self._at)
        if found is None:
            return left
        op, width = found
        op_column = self._peek().column
        self._at += width
        right = self._operand()
        if _comparison_op(self._tokens, self._at) is not None:
            raise _unexpected(self._peek(), "comparisons do not chain; join them with 'and'")
        return Compare(op, left, right, left.column, op_column)

    def _operand(self) -> Node:
        token = self._next()
        if token.kind is _T.NAME:
            return Name(token.text, token.column)
        if (constant := _constant(token)) is not None:
            return constant
        if token.is_(_T.PUNCTUATION, "("):
            self._enter(token)
            inner = self._or()
            close = self._next()
            if not close.is_(_T.PUNCTUATION, ")"):
                raise _fail(
                    "expected ')'", close.column, f"to close the '(' at column {token.column}"
                )
            self._depth -= 1
            return replace(inner, column=token.column)
        if token.is_(_T.PUNCTUATION, "["):
            return self._list(token)
        raise _unexpected(token)

    def _list(self, opening: _Token) -> ListLiteral:
        items: list[Constant] = []
        if self._peek().is_(_T.PUNCTUATION, "]"):
            self._next()
            return ListLiteral((), opening.column)
        while True:
            token = self._next()
            constant = _constant(token)
            if constant is None:
                trailing = token.is_(_T.PUNCTUATION, "]")
                raise _unexpected(token, "remove the trailing ','" if trailing else _LIST_HINT)
            items.append(constant)
            token = self._next()
            if token.is_(_T.PUNCTUATION, "]"):
                break
            if not token.is_(_T.PUNCTUATION, ","):
                raise _fail(
                    "expected ',' or ']'",
                    token.column,
                    f"to close the '[' at column {opening.column}",
                )
        first: Kind | None = None  # null may join items of any one type
        for item in items:
            if item.kind is Kind.NULL:
                continue
            if first is None:
                first = item.kind
            elif item.kind is not first:
                raise _fail(f"list mixes {_PLURAL[first]} and {_PLURAL[item.kind]}", item.column)
        return ListLiteral(tuple(items), opening.column)


def _constant(token: _Token) -> Constant | None:
    if token.kind in (_T.NUMBER, _T.STRING):
        return Constant(token.value, token.column)
    if token.kind is _T.KEYWORD and token.text in ("true", "false", "null"):
        return Constant({"true": True, "false": False, "null": None}[token.text], token.column)
    return None


# --- Walking the tree -----------------------------------------------------------------


def _names(node: Node) -> Iterator[str]:
    match node:
        case Name():
            yield node.path
        case Constant() | ListLiteral():
            pass
        case Not():
            yield from _names(node.operand)
        case And() | Or():
            for operand in node.operands:
                yield from _names(operand)
        case Compare():
            yield from _names(node.left)
            yield from _names(node.right)
        case _:
            assert_never(node)


def _literal_text(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, float):
        # repr() is the shortest text that reads back as the same float, but it may
        # use an exponent (1e-05), which the grammar has not: spell it out.
        return format(Decimal(repr(value)), "f")
    return str(value)


# Binding strength: a child weaker than its parent needs parentheses.
_STRENGTH = {Or: 1, And: 2, Not: 3, Compare: 4}
_ATOM = 5


def _unparse(node: Node, parent: int = 0) -> str:
    match node:
        case Name():
            return node.path
        case Constant():
            return _literal_text(node.value)
        case ListLiteral():
            return "[" + ", ".join(_literal_text(item.value) for item in node.items) + "]"
        case Not():
            text = "not " + _unparse(node.operand, _STRENGTH[Not])
        case And():
            # 'a and (b and c)' is not the tree of 'a and b and c': keep those parentheses.
            text = " and ".join(_unparse(o, _STRENGTH[And] + 1) for o in node.operands)
        case Or():
            text = " or ".join(_unparse(o, _STRENGTH[Or] + 1) for o in node.operands)
        case Compare():
            left, right = _unparse(node.left, _ATOM), _unparse(node.right, _ATOM)
            text = f"{left} {node.op} {right}"
        case _:
            assert_never(node)
    return f"({text})" if _STRENGTH[type(node)] < parent else text


def _describe(node: Node) -> str:
    """How an error message names an operand: ``devices.total``, ``'sync'``, ``(a or b)``."""
    if isinstance(node, Name):
        return node.path
    if isinstance(node, Constant | ListLiteral):
        return _short(_unparse(node))
    return _short(f"({_unparse(node)})")


def _phrase(kinds: frozenset[Kind]) -> str:
    return " or ".join(_A[kind] for kind in Kind if kind in kinds)


def _wrong_kind(node: Node, kinds: frozenset[Kind], wanted: Kind) -> ExprError:
    subject = f"{_describe(node)} at column {node.column}"
    if wanted in kinds:
        message = f"{subject} may be {_phrase(kinds - {wanted})}; {_A[wanted]} is needed here"
    else:
        message = f"{subject} is {_phrase(kinds)}, not {_A[wanted]}"
    return ExprError(message, column=node.column)


def _mismatch(node: Compare, left: frozenset[Kind], right: frozenset[Kind]) -> ExprError:
    where = f"'{node.op}' at column {node.op_column}"
    if node.op in (CompareOp.IN, CompareOp.NOT_IN):
        plural = " or ".join(_PLURAL[kind] for kind in Kind if kind in right)
        message = f"{where} looks for {_phrase(left)} in a list of {plural}"
    else:
        message = f"{where} compares {_phrase(left)} with {_phrase(right)}"
    return ExprError(message, column=node.op_column)


def _left_is_list(node: Node) -> ExprError:
    return ExprError(
        f"{_describe(node)} at column {node.column} is a list;"
        " 'in' needs a single value on its left",
        column=node.column,
    )


# --- Static check ---------------------------------------------------------------------


def check_types(expr: Expr, types: Mapping[str, type | tuple[type, ...]]) -> None:
    """Check names and types before any value exists (when rules are loaded).

    ``types`` maps each known name to its Python type, or a tuple of them for a
    name that may hold several (``(str, type(None))`` for an optional string).
    ``bool``, ``int``, ``float``, ``str``, ``type(None)``, and ``tuple``,
    ``list`` or ``frozenset`` for a list of strings, are understood; anything
    else is a programming error (:class:`TypeError`). Raises :class:`ExprError`
    for an unknown name, with the closest known ones, and for a type that
    cannot fit: a number used as a boolean, a boolean compared with ``>=``, a
    string compared with a number, ``in`` on something that is not a list.
    """
    kinds = {name: _kinds_of_type(spec) for name, spec in types.items()}
    _Checker(kinds).require(expr.tree, Kind.BOOLEAN)


def _kinds_of_type(spec: type | tuple[type, ...]) -> frozenset[Kind]:
    kinds: set[Kind] = set()
    for python_type in spec if isinstance(spec, tuple) else (spec,):
        if python_type is type(None):
            kinds.add(Kind.NULL)
        elif issubclass(python_type, bool):
            kinds.add(Kind.BOOLEAN)
        elif issubclass(python_type, int | float):
            kinds.add(Kind.NUMBER)
        elif issubclass(python_type, str):
            kinds.add(Kind.STRING)
        elif issubclass(python_type, tuple | list | frozenset | set):
            kinds.add(Kind.LIST)
        else:
            raise TypeError(f"conditions cannot use values of type {python_type.__name__}")
    if not kinds:
        raise TypeError("a name needs at least one type")
    return frozenset(kinds)


def _suggestions(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if not close:
        # 'devicez.total' or 'devicez': match the first part, then offer its names.
        heads = sorted({k.split(".")[0] for k in known})
        head = difflib.get_close_matches(name.split(".", maxsplit=1)[0], heads, n=1, cutoff=0.6)
        close = [k for k in sorted(known) if head and k.split(".")[0] == head[0]][:3]
    if close:
        quoted = [repr(c) for c in close]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        return f"did you mean {listed}?"
    if not known:
        return "no names are known"
    shown = sorted(known)[:8]
    more = f" and {len(known) - len(shown)} more" if len(known) > len(shown) else ""
    return f"known: {', '.join(shown)}{more}"


class _Checker:
    def __init__(self, kinds: Mapping[str, frozenset[Kind]]) -> None:
        self._kinds = kinds

    def require(self, node: Node, wanted: Kind) -> None:
        kinds = self.infer(node)
        if kinds != {wanted}:
            raise _wrong_kind(node, kinds, wanted)

    def infer(self, node: Node) -> frozenset[Kind]:
        match node:
            case Name():
                if node.path not in self._kinds:
                    hint = _suggestions(node.path, list(self._kinds))
                    raise _fail(f"unknown name {node.path!r}", node.column, hint)
                return self._kinds[node.path]
            case Constant():
                return frozenset({node.kind})
            case ListLiteral():
                return frozenset({Kind.LIST})
            case Not():
                self.require(node.operand, Kind.BOOLEAN)
            case And() | Or():
                for operand in node.operands:
                    self.require(operand, Kind.BOOLEAN)
            case Compare():
                self._compare(node)
            case _:
                assert_never(node)
        return frozenset({Kind.BOOLEAN})

    def _compare(self, node: Compare) -> None:
        if node.op in _ORDERING:
            self.require(node.left, Kind.NUMBER)
            self.require(node.right, Kind.NUMBER)
            return
        left = self.infer(node.left)
        if node.op in (CompareOp.EQ, CompareOp.NE):
            right = self.infer(node.right)
            if not _may_meet(left, right):
                raise _mismatch(node, left - {Kind.NULL}, right - {Kind.NULL})
            return
        if Kind.LIST in left:
            raise _left_is_list(node.left)
        self.require(node.right, Kind.LIST)
        items = _item_kinds(node.right)
        if not _may_meet(left, items):
            raise _mismatch(node, left - {Kind.NULL}, items - {Kind.NULL})


def _may_meet(left: frozenset[Kind], right: frozenset[Kind]) -> bool:
    """Whether two values of these kinds can be compared: same kind, or one is null."""
    left, right = left - {Kind.NULL}, right - {Kind.NULL}
    return not left or not right or bool(left & right)


def _item_kinds(node: Node) -> frozenset[Kind]:
    """What a list holds: a literal says; a list-valued name holds strings."""
    if isinstance(node, ListLiteral):
        return frozenset(item.kind for item in node.items)
    return frozenset({Kind.STRING})


# --- Evaluation -----------------------------------------------------------------------


def _truth(node: Node, values: Mapping[str, object]) -> bool:
    match node:
        case And():
            return all(_truth(operand, values) for operand in node.operands)  # short-circuits
        case Or():
            return any(_truth(operand, values) for operand in node.operands)
        case Not():
            return not _truth(node.operand, values)
        case Compare():
            return _compare(node, values)
        case Name() | Constant() | ListLiteral():
            kind, value = _value(node, values)
            if kind is not Kind.BOOLEAN:
                raise _wrong_kind(node, frozenset({kind}), Kind.BOOLEAN)
            return value is True
        case _:
            assert_never(node)


def _value(node: Node, values: Mapping[str, object]) -> tuple[Kind, object]:
    """An operand's value and its kind, checked to be one the language has."""
    match node:
        case Name():
            try:
                value = values[node.path]
            except KeyError:
                raise ExprError(
                    f"{node.path} at column {node.column} has no value", column=node.column
                ) from None
            kind = _kind_of(value)
            if kind is None or (
                kind is Kind.LIST and not all(_kind_of(item) in _SCALARS for item in _items(value))
            ):
                what = type(value).__name__ if kind is None else "list with items of other types"
                raise ExprError(
                    f"{node.path} at column {node.column} holds a {what},"
                    " which conditions cannot use",
                    column=node.column,
                )
            return kind, value
        case Constant():
            return node.kind, node.value
        case ListLiteral():
            return Kind.LIST, tuple(item.value for item in node.items)
        case Not() | And() | Or() | Compare():
            return Kind.BOOLEAN, _truth(node, values)
        case _:
            assert_never(node)


def _items(value: object) -> tuple[object, ...]:
    assert isinstance(value, tuple | list | frozenset | set)
    return tuple(value)


def _number(value: object) -> float:
    assert isinstance(value, int | float)
    return value


def _equal(left: object, right: object) -> bool | None:
    """Strict equality; ``None`` when the two cannot be compared (different kinds)."""
    left_kind, right_kind = _kind_of(left), _kind_of(right)
    if Kind.NULL in (left_kind, right_kind):
        return left_kind is right_kind
    if left_kind is not right_kind:
        return None
    if left_kind is Kind.LIST:
        return _as_set(left) == _as_set(right)
    return left == right


def _as_set(value: object) -> frozenset[tuple[Kind | None, object]]:
    # The kind goes with each item so that [true] is not [1].
    return frozenset((_kind_of(item), item) for item in _items(value))


def _compare(node: Compare, values: Mapping[str, object]) -> bool:
    left_kind, left = _value(node.left, values)
    right_kind, right = _value(node.right, values)
    op = node.op
    if op in _ORDERING:
        for side, kind in ((node.left, left_kind), (node.right, right_kind)):
            if kind is not Kind.NUMBER:
                raise _wrong_kind(side, frozenset({kind}), Kind.NUMBER)
        a, b = _number(left), _number(right)
        return {
            CompareOp.LT: a < b,
            CompareOp.LE: a <= b,
            CompareOp.GT: a > b,
            CompareOp.GE: a >= b,
        }[op]
    if op in (CompareOp.EQ, CompareOp.NE):
        same = _equal(left, right)
        if same is None:
            raise _mismatch(node, frozenset({left_kind}), frozenset({right_kind}))
        return same if op is CompareOp.EQ else not same
    if left_kind is Kind.LIST:
        raise _left_is_list(node.left)
    if right_kind is not Kind.LIST:
        raise _wrong_kind(node.right, frozenset({right_kind}), Kind.LIST)
    found = False
    for item in _items(right):
        same = _equal(left, item)
        if same is None:
            item_kind = _kind_of(item) or Kind.NULL  # items were checked by _value
            raise _mismatch(node, frozenset({left_kind}), frozenset({item_kind}))
        if same:
            found = True
            break
    return found if op is CompareOp.IN else not found
