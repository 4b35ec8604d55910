"""The rule condition language: what parses, what it means, and every one-line error."""

from __future__ import annotations

import contextlib
import itertools
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advisor.errors import AdvisorError
from advisor.rules import expr as expr_module
from advisor.rules.expr import (
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    Compare,
    CompareOp,
    Constant,
    Expr,
    ExprError,
    ListLiteral,
    Name,
    Not,
    Or,
    check_types,
    parse,
)

NoneType = type(None)
TypeSpec = type | tuple[type, ...]

# The kind of names the rule files use, one of each shape.
TYPES: dict[str, TypeSpec] = {
    "devices.total": int,
    "devices.phones": int,
    "ratio": float,
    "offers.imap": bool,
    "offers.pop3": bool,
    "offers.exchange": bool,
    "backed_up": bool,
    "maybe_flag": (bool, NoneType),
    "calendars": str,
    "organisation": str,
    "microsoft": (str, NoneType),
    "exchange.hosted": (str, NoneType),
    "quota": (int, NoneType),
    "clients": tuple,
}


LIST_HINT = "(a list holds only numbers, strings, true, false and null)"
CHAIN_HINT = "(comparisons do not chain; join them with 'and')"
LOWER_HINT = "(names and keywords are lower case)"


# --- Parsing: the tree ----------------------------------------------------------------

a, b, c, d = Name("a"), Name("b"), Name("c"), Name("d")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a", a),
        ("devices.total", Name("devices.total")),
        ("not a and b or c", Or((And((Not(a), b)), c))),
        ("a or b and c", Or((a, And((b, c))))),
        ("a and b and c or d", Or((And((a, b, c)), d))),
        ("(a or b) and c", And((Or((a, b)), c))),
        ("a and (b and c)", And((a, And((b, c))))),
        ("not not a", Not(Not(a))),
        ("not a == b", Not(Compare(CompareOp.EQ, a, b))),
        ("not (a or b)", Not(Or((a, b)))),
        ("((a))", a),
        ("a not in b", Compare(CompareOp.NOT_IN, a, b)),
        ("not a in b", Not(Compare(CompareOp.IN, a, b))),
        ("a >= 2", Compare(CompareOp.GE, a, Constant(2))),
        ("a < 0.5", Compare(CompareOp.LT, a, Constant(0.5))),
        ("a <= 007", Compare(CompareOp.LE, a, Constant(7))),
        (
            "a > 2 and b != 3",
            And((Compare(CompareOp.GT, a, Constant(2)), Compare(CompareOp.NE, b, Constant(3)))),
        ),
        ("true or false", Or((Constant(True), Constant(False)))),
        ("a == null", Compare(CompareOp.EQ, a, Constant(None))),
        ("a == 'x'", Compare(CompareOp.EQ, a, Constant("x"))),
        ('a == "x"', Compare(CompareOp.EQ, a, Constant("x"))),
        ('a == "it\'s"', Compare(CompareOp.EQ, a, Constant("it's"))),
        ("a == 'say \"hi\"'", Compare(CompareOp.EQ, a, Constant('say "hi"'))),
        (r"a == 'it\'s'", Compare(CompareOp.EQ, a, Constant("it's"))),
        (r'a == "\"q\" \\ \'"', Compare(CompareOp.EQ, a, Constant('"q" \\ \''))),
        ("a == ''", Compare(CompareOp.EQ, a, Constant(""))),
        ("a == 'café ✓'", Compare(CompareOp.EQ, a, Constant("café ✓"))),
        ("a in []", Compare(CompareOp.IN, a, ListLiteral(()))),
        (
            "a in ['sync', \"share\"]",
            Compare(CompareOp.IN, a, ListLiteral((Constant("sync"), Constant("share")))),
        ),
        (
            "a in [1, 2.5, null]",
            Compare(CompareOp.IN, a, ListLiteral((Constant(1), Constant(2.5), Constant(None)))),
        ),
        (
            "'new-outlook' in clients",
            Compare(CompareOp.IN, Constant("new-outlook"), Name("clients")),
        ),
        ("  a\n\tand\r\nb  ", And((a, b))),
        ("a==1", Compare(CompareOp.EQ, a, Constant(1))),
        ("_x.y_2.z", Name("_x.y_2.z")),
        ("notice or android or order", Or((Name("notice"), Name("android"), Name("order")))),
    ],
)
def test_parse_tree(text: str, tree: object) -> None:
    parsed = parse(text)
    assert parsed.tree == tree
    assert parsed.source == text
    assert str(parsed) == text


def test_columns_point_at_the_text() -> None:
    tree = parse("x and (y or z) == not_a").tree
    assert isinstance(tree, And)
    x, compare = tree.operands
    assert isinstance(compare, Compare)
    assert (x.column, compare.column, compare.op_column, compare.right.column) == (1, 7, 16, 19)


def test_trees_keep_types_apart() -> None:
    # Python says True == 1 and 1 == 1.0; the language keeps booleans apart from numbers.
    assert parse("true").tree != parse("1").tree
    assert parse("false").tree != parse("0").tree
    assert parse("2").tree == parse("2.0").tree
    assert parse("a == 'x'") == parse("a == 'x'")
    assert hash(parse("a == 'x'")) == hash(parse("a == 'x'"))
    with pytest.raises(TypeError):
        Constant([1])  # type: ignore[arg-type]


def test_names() -> None:
    assert parse("a and b.c == d or 'x' in e and not f").names() == {"a", "b.c", "d", "e", "f"}
    assert parse("true").names() == frozenset()


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("  a   and(b)  ", "a and b"),
        ("(not a) and b", "not a and b"),
        ("a and (b and c)", "a and (b and c)"),
        ("(a and b) or c", "a and b or c"),
        ("(a or b) and c", "(a or b) and c"),
        ("not (a == b)", "not a == b"),
        ("(a == b) == c", "(a == b) == c"),
        ('x == "it\'s"', r"x == 'it\'s'"),
        ("x in [ 'a' ,\"b\" ]", "x in ['a', 'b']"),
        ("x > 0.000001", "x > 0.000001"),
        ("x > 10000000000000000.0", "x > 10000000000000000"),
        ("x != null", "x != null"),
    ],
)
def test_canonical(text: str, canonical: str) -> None:
    parsed = parse(text)
    assert parsed.canonical() == canonical
    assert parse(canonical).tree == parsed.tree


def test_docstring_examples_parse_and_check() -> None:
    # The module docstring is quoted in the README: its examples must stay true.
    doc = expr_module.__doc__ or ""
    block = doc.split("such as::\n\n", 1)[1].split("\n\n", 1)[0]
    examples = [line.strip() for line in block.splitlines()]
    assert len(examples) >= 4
    types = {**TYPES, "offline": bool}
    for example in examples:
        check_types(parse(example), types)


# --- Evaluation -----------------------------------------------------------------------

BOOLS = (False, True)


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("not a and b or c", lambda a, b, c, d: ((not a) and b) or c),
        ("a or b and c", lambda a, b, c, d: a or (b and c)),
        ("not a or not b and c", lambda a, b, c, d: (not a) or ((not b) and c)),
        ("a and not b or c and d", lambda a, b, c, d: (a and not b) or (c and d)),
        ("not (a or b) and c", lambda a, b, c, d: (not (a or b)) and c),
        ("a == b and c != d", lambda a, b, c, d: a == b and c != d),
        ("not a == b", lambda a, b, c, d: a != b),
        ("a or b or c or d", lambda a, b, c, d: a or b or c or d),
    ],
)
def test_precedence_truth_tables(text: str, meaning: Callable[..., bool]) -> None:
    condition = parse(text)
    for row in itertools.product(BOOLS, repeat=4):
        values = dict(zip("abcd", row, strict=True))
        assert condition.evaluate(values) is bool(meaning(*row)), (text, row)


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("devices.total >= 2", {"devices.total": 2}, True),
        ("devices.total >= 2", {"devices.total": 1}, False),
        ("ratio < 0.5", {"ratio": 0.25}, True),
        ("n == 2.0", {"n": 2}, True),
        ("n != 3", {"n": 3.0}, False),
        ("n > 1 and n <= 3", {"n": 3}, True),
        ("calendars in ['sync', 'share']", {"calendars": "share"}, True),
        ("calendars in ['sync', 'share']", {"calendars": "none"}, False),
        ("calendars not in ['sync', 'share']", {"calendars": "none"}, True),
        ("x in []", {"x": "a"}, False),
        ("x not in []", {"x": "a"}, True),
        ("2 in [1, 2.0]", {}, True),
        ("'new-outlook' in clients", {"clients": ("outlook", "new-outlook")}, True),
        ("'new-outlook' in clients", {"clients": frozenset({"thunderbird"})}, False),
        ("'x' not in clients", {"clients": []}, True),
        ("microsoft in ['none', null]", {"microsoft": None}, True),
        ("microsoft in ['none']", {"microsoft": None}, False),
        ("microsoft not in ['none']", {"microsoft": None}, True),
        ("microsoft == null", {"microsoft": None}, True),
        ("microsoft == null", {"microsoft": "none"}, False),
        ("microsoft != 'none'", {"microsoft": None}, True),
        ("microsoft == 'exchange'", {"microsoft": None}, False),
        ("null == null", {}, True),
        ("flag == true", {"flag": True}, True),
        ("flag != false", {"flag": False}, False),
        ('name == "it\'s"', {"name": "it's"}, True),
        ("name == 'say \"hi\"'", {"name": 'say "hi"'}, True),
        (r"name == 'back\\slash'", {"name": "back\\slash"}, True),
        ("clients == []", {"clients": ()}, True),
        ("clients == ['b', 'a']", {"clients": ("a", "b")}, True),
        ("clients != ['a']", {"clients": ["a", "b"]}, True),
        ("[true] == [1]", {}, False),
        ("true", {}, True),
        ("false or flag", {"flag": True}, True),
        ("not offers.pop3", {"offers.pop3": False}, True),
        (
            "organisation == 'enterprise' or microsoft != 'none'",
            {"organisation": "home", "microsoft": "none"},
            False,
        ),
    ],
)
def test_evaluate(text: str, values: Mapping[str, object], expected: bool) -> None:
    assert parse(text).evaluate(values) is expected


def test_and_or_short_circuit() -> None:
    # The right side is never looked at, so a missing or ill-typed value there is no error.
    hosted = parse("offers.exchange and exchange.hosted == 'microsoft365'")
    assert hosted.evaluate({"offers.exchange": False}) is False
    assert parse("a or b").evaluate({"a": True, "b": 3}) is True
    assert parse("a and b").evaluate({"a": False, "b": "x"}) is False
    with pytest.raises(ExprError, match=r"exchange\.hosted at column 21 has no value"):
        hosted.evaluate({"offers.exchange": True})


@pytest.mark.parametrize(
    ("text", "values", "message", "column"),
    [
        (
            "devices.total",
            {"devices.total": 2},
            "devices.total at column 1 is a number, not a boolean",
            1,
        ),
        ("flag", {"flag": 1}, "flag at column 1 is a number, not a boolean", 1),
        ("flag", {"flag": None}, "flag at column 1 is null, not a boolean", 1),
        ("not name", {"name": "x"}, "name at column 5 is a string, not a boolean", 5),
        ("2", {}, "2 at column 1 is a number, not a boolean", 1),
        ("a and ['x']", {"a": True}, "['x'] at column 7 is a list, not a boolean", 7),
        ("x", {}, "x at column 1 has no value", 1),
        ("n >= 1", {"n": True}, "n at column 1 is a boolean, not a number", 1),
        ("n > 1", {"n": None}, "n at column 1 is null, not a number", 1),
        ("1 < n", {"n": "2"}, "n at column 5 is a string, not a number", 5),
        ("(a == b) < 1", {"a": 1, "b": 1}, "(a == b) at column 1 is a boolean, not a number", 1),
        ("x == 1", {"x": True}, "'==' at column 3 compares a boolean with a number", 3),
        ("1 != true", {}, "'!=' at column 3 compares a number with a boolean", 3),
        (
            "x == clients",
            {"x": "a", "clients": ()},
            "'==' at column 3 compares a string with a list",
            3,
        ),
        ("x in ['a']", {"x": 1}, "'in' at column 3 looks for a number in a list of strings", 3),
        (
            "x not in clients",
            {"x": False, "clients": ("a",)},
            "'not in' at column 3 looks for a boolean in a list of strings",
            3,
        ),
        ("x in c", {"x": "a", "c": "abc"}, "c at column 6 is a string, not a list", 6),
        (
            "c in ['a']",
            {"c": ("a",)},
            "c at column 1 is a list; 'in' needs a single value on its left",
            1,
        ),
        ("x == 1", {"x": {"a": 1}}, "x at column 1 holds a dict, which conditions cannot use", 1),
        (
            "x == []",
            {"x": [["a"]]},
            "x at column 1 holds a list with items of other types, which conditions cannot use",
            1,
        ),
    ],
)
def test_evaluation_errors(
    text: str, values: Mapping[str, object], message: str, column: int
) -> None:
    with pytest.raises(ExprError) as caught:
        parse(text).evaluate(values)
    assert str(caught.value) == message
    assert caught.value.column == column


# --- Syntax errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("", "the condition is empty", None),
        (" \n\t ", "the condition is empty", None),
        ("a and", "unexpected end of condition at column 6", 6),
        ("a ==", "unexpected end of condition at column 5", 5),
        ("a b", "unexpected 'b' at column 3", 3),
        ("a and or b", "unexpected 'or' at column 7", 7),
        ("devices.total >= 2 xyz", "unexpected 'xyz' at column 20", 20),
        ("a == b)", "unexpected ')' at column 7", 7),
        ("a not b", "unexpected 'not' at column 3", 3),
        ("(a and b", "expected ')' at column 9 (to close the '(' at column 1)", 9),
        ("(a b)", "expected ')' at column 4 (to close the '(' at column 1)", 4),
        ("()", "unexpected ')' at column 2", 2),
        ("x == 'abc", "unterminated string at column 6", 6),
        ("x == \"abc'", "unterminated string at column 6", 6),
        (r"x == 'it\'s", "unterminated string at column 6", 6),
        ("x == 'a\\", "unterminated string at column 6", 6),
        (
            r"x == 'a\n'",
            r"unsupported escape '\n' in a string at column 8 (only \\, \' and \" are escapes)",
            8,
        ),
        ("a = 1", "unexpected '=' at column 3 (use '==' to compare)", 3),
        ("!a", "unexpected '!' at column 1 (use 'not' to negate or '!=' to compare)", 1),
        ("a && b", "unexpected '&' at column 3 (use 'and')", 3),
        ("a || b", "unexpected '|' at column 3 (use 'or')", 3),
        ("a is null", "unexpected 'is' at column 3 (use '==' or '!=')", 3),
        (
            "n == -1",
            "unexpected '-' at column 6 (conditions have no arithmetic and no negative numbers)",
            6,
        ),
        ("True", f"unexpected 'True' at column 1 {LOWER_HINT}", 1),
        ("a and Offers.imap", f"unexpected 'Offers.imap' at column 7 {LOWER_HINT}", 7),
        ("a < b < c", f"unexpected '<' at column 7 {CHAIN_HINT}", 7),
        ("a == b in c", f"unexpected 'in' at column 8 {CHAIN_HINT}", 8),
        ("a == b not in c", f"unexpected 'not' at column 8 {CHAIN_HINT}", 8),
        ("1.2.3 == a", "malformed number '1.2.3' at column 1", 1),
        ("a > 1.", "malformed number '1.' at column 5", 5),
        ("a > 2x", "malformed number '2x' at column 5", 5),
        ("a > .5", "unexpected '.' at column 5", 5),
        ("a > 1e5", "malformed number '1e5' at column 5", 5),
        (
            "a > " + "9" * 400 + ".0",
            "number '9999999999999999999999999999999999999...' is too large at column 5",
            5,
        ),
        ("a.b.", "unexpected '.' at column 4", 4),
        ("a..b", "unexpected '.' at column 2", 2),
        ("offers.in", "'offers.in' uses the keyword 'in' as part of a name at column 1", 1),
        ("x == é", "unexpected 'é' at column 6", 6),
        ("x in [a]", f"unexpected 'a' at column 7 {LIST_HINT}", 7),
        ("x in [[1]]", f"unexpected '[' at column 7 {LIST_HINT}", 7),
        ("x in ['a',]", "unexpected ']' at column 11 (remove the trailing ',')", 11),
        ("x in [,]", f"unexpected ',' at column 7 {LIST_HINT}", 7),
        ("x in ['a' 'b']", "expected ',' or ']' at column 11 (to close the '[' at column 6)", 11),
        ("x in ['a'", "expected ',' or ']' at column 10 (to close the '[' at column 6)", 10),
        ("x in ['a', 1]", "list mixes strings and numbers at column 12", 12),
        ("x in [null, true, 2]", "list mixes booleans and numbers at column 19", 19),
    ],
)
def test_syntax_errors(text: str, message: str, column: int | None) -> None:
    with pytest.raises(ExprError) as caught:
        parse(text)
    assert str(caught.value) == message
    assert caught.value.column == column
    assert isinstance(caught.value, AdvisorError)  # the CLI prints it in one line
    assert "\n" not in str(caught.value)


def test_length_limit() -> None:
    parse("a" * MAX_LENGTH)
    with pytest.raises(ExprError) as caught:
        parse("a" * (MAX_LENGTH + 1))
    assert str(caught.value) == (
        f"the condition is {MAX_LENGTH + 1} characters long; at most {MAX_LENGTH} are allowed"
    )
    assert caught.value.column is None


def test_nesting_limit() -> None:
    assert parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH).tree == Name("a")
    assert parse("not " * MAX_DEPTH + "a").evaluate({"a": True}) is (MAX_DEPTH % 2 == 0)
    with pytest.raises(ExprError) as caught:
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert str(caught.value) == f"nesting deeper than {MAX_DEPTH} levels at column {MAX_DEPTH + 1}"
    assert caught.value.column == MAX_DEPTH + 1
    with pytest.raises(ExprError, match=f"nesting deeper than {MAX_DEPTH} levels at column 129"):
        parse("not " * (MAX_DEPTH + 1) + "a")
    with pytest.raises(ExprError, match="nesting deeper"):
        parse("(not " * 16 + "(a)" + ")" * 16)


def parse_or_error(text: str) -> Expr | ExprError:
    try:
        return parse(text)
    except ExprError as error:
        return error


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_LENGTH - 1) + "a",
        "not " * (MAX_LENGTH // 4 - 1) + "a",
        "(not " * (MAX_LENGTH // 5 - 1) + "a",
        "[" * MAX_LENGTH,
        "a" + " and a" * (MAX_LENGTH // 6 - 1),  # long but flat: fine
    ],
)
def test_deep_or_long_input_is_refused_not_a_recursion_error(text: str) -> None:
    # Only ExprError may escape; a flat 'and' chain is not nesting.
    result = parse_or_error(text)
    if isinstance(result, ExprError):
        assert "nesting deeper" in str(result) or "unexpected" in str(result)
    else:
        assert result.evaluate({"a": True}) is True


# --- Static checks --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "devices.total >= 2 and calendars in ['sync', 'share']",
        "not offers.pop3",
        "organisation == 'enterprise' or microsoft != 'none'",
        "offers.exchange and exchange.hosted == 'microsoft365'",
        "exchange.hosted == 'on-premises' and 'new-outlook' in clients",
        "microsoft == null or microsoft in ['none', null]",
        "maybe_flag == true",
        "quota == null or quota == 3",
        "ratio < 0.5 and devices.total == 2.0",
        "clients == [] or clients != ['outlook']",
        "exchange.hosted in clients",
        "null in clients",
        "calendars in []",
        "(offers.imap == true) == backed_up",
        "true",
    ],
)
def test_check_types_accepts(text: str) -> None:
    check_types(parse(text), TYPES)


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("devicez >= 2", "unknown name 'devicez' at column 1 (did you mean 'devices.total'?)", 1),
        (
            "devices.totl >= 2",
            "unknown name 'devices.totl' at column 1"
            " (did you mean 'devices.total' or 'devices.phones'?)",
            1,
        ),
        (
            "offers.imap and ofers.pop",
            "unknown name 'ofers.pop' at column 17 (did you mean 'offers.pop3' or 'offers.imap'?)",
            17,
        ),
        (
            "zzz",
            "unknown name 'zzz' at column 1 (known: backed_up, calendars, clients, devices.phones,"
            " devices.total, exchange.hosted, maybe_flag, microsoft and 6 more)",
            1,
        ),
        ("devices.total", "devices.total at column 1 is a number, not a boolean", 1),
        ("not devices.total", "devices.total at column 5 is a number, not a boolean", 5),
        ("backed_up and 'x'", "'x' at column 15 is a string, not a boolean", 15),
        ("microsoft", "microsoft at column 1 is a string or null, not a boolean", 1),
        (
            "maybe_flag or backed_up",
            "maybe_flag at column 1 may be null; a boolean is needed here",
            1,
        ),
        ("quota >= 1", "quota at column 1 may be null; a number is needed here", 1),
        ("offers.imap >= 2", "offers.imap at column 1 is a boolean, not a number", 1),
        ("2 > calendars", "calendars at column 5 is a string, not a number", 5),
        (
            "(offers.imap == true) >= 1",
            "(offers.imap == true) at column 1 is a boolean, not a number",
            1,
        ),
        ("calendars == 2", "'==' at column 11 compares a string with a number", 11),
        ("microsoft != true", "'!=' at column 11 compares a string with a boolean", 11),
        ("clients == 'outlook'", "'==' at column 9 compares a list with a string", 9),
        ("calendars in 'sync'", "'sync' at column 14 is a string, not a list", 14),
        ("calendars in organisation", "organisation at column 14 is a string, not a list", 14),
        (
            "clients in ['a']",
            "clients at column 1 is a list; 'in' needs a single value on its left",
            1,
        ),
        (
            "devices.total in clients",
            "'in' at column 15 looks for a number in a list of strings",
            15,
        ),
        (
            "microsoft not in [1, 2]",
            "'not in' at column 11 looks for a string in a list of numbers",
            11,
        ),
    ],
)
def test_check_types_errors(text: str, message: str, column: int) -> None:
    with pytest.raises(ExprError) as caught:
        check_types(parse(text), TYPES)
    assert str(caught.value) == message
    assert caught.value.column == column


def test_check_types_with_no_names_known() -> None:
    with pytest.raises(ExprError, match=r"unknown name 'a' at column 1 \(no names are known\)"):
        check_types(parse("a"), {})


@pytest.mark.parametrize("spec", [dict, object, ()])
def test_check_types_refuses_types_it_does_not_know(spec: TypeSpec) -> None:
    # The types table is code, not user input: a wrong one is a programming error.
    with pytest.raises(TypeError):
        check_types(parse("a"), {"a": spec})


# --- Properties -----------------------------------------------------------------------

FRAGMENTS = [
    "a",
    "b.c",
    "devices.total",
    "clients",
    "flag",
    "1",
    "2.5",
    "007",
    "'x'",
    '"y"',
    "''",
    "(",
    ")",
    "[",
    "]",
    ",",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not",
    "and",
    "or",
    "true",
    "false",
    "null",
    "'",
    '"',
    "\\",
    "=",
    "!",
    ".",
    "-",
    "A",
    "é",
    "\n",
    " ",
]
fragment_text = st.lists(st.sampled_from(FRAGMENTS), max_size=12).flatmap(
    lambda parts: st.sampled_from([" ".join(parts), "".join(parts)])
)
any_text = st.one_of(st.text(max_size=40), fragment_text)
any_value = st.one_of(
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.none(),
    st.lists(st.text(max_size=2), max_size=3).map(tuple),
    st.dictionaries(st.text(max_size=1), st.integers(), max_size=1),
)
any_type: st.SearchStrategy[TypeSpec] = st.sampled_from(
    [bool, int, float, str, tuple, (str, NoneType), (bool, NoneType)]
)


@given(text=any_text, data=st.data())
@settings(max_examples=300)
def test_any_text_parses_or_raises_expr_error(text: str, data: st.DataObject) -> None:
    condition = parse_or_error(text)
    if isinstance(condition, ExprError):
        assert condition.column is None or 1 <= condition.column <= len(text) + 1
        return
    assert parse(condition.source) == condition
    canonical = condition.canonical()
    assert parse(canonical).tree == condition.tree
    assert parse(canonical).canonical() == canonical
    names = sorted(condition.names())
    values = {name: data.draw(any_value, label=name) for name in names}
    with contextlib.suppress(ExprError):
        assert condition.evaluate(values) in (True, False)
    types = {name: data.draw(any_type, label=f"type of {name}") for name in names}
    checked = check_or_error(condition, types)
    if checked is not None:
        assert checked.column is not None
        return
    # It type-checks: any values of those types evaluate without error.
    typed = {name: data.draw(value_of(types[name]), label=f"typed {name}") for name in names}
    assert condition.evaluate(typed) in (True, False)


def check_or_error(condition: Expr, types: Mapping[str, TypeSpec]) -> ExprError | None:
    try:
        check_types(condition, types)
    except ExprError as error:
        return error
    return None


def value_of(spec: TypeSpec) -> st.SearchStrategy[object]:
    strategies: dict[type, st.SearchStrategy[object]] = {
        bool: st.booleans(),
        int: st.integers(-3, 3),
        float: st.floats(allow_nan=False),
        str: st.sampled_from(["x", "y", ""]),
        tuple: st.lists(st.sampled_from(["x", "y"]), max_size=3).map(tuple),
        NoneType: st.none(),
    }
    return st.one_of(*(strategies[t] for t in (spec if isinstance(spec, tuple) else (spec,))))


# Well-typed conditions built together with what they mean, so evaluation is checked
# against an independent model, not just for not raising.
Values = Mapping[str, object]
Typed = tuple[str, Callable[[Values], object]]

_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def number_text(value: float) -> str:
    return format(Decimal(repr(value)), "f") if isinstance(value, float) else str(value)


def string_text(value: str, quote: str) -> str:
    return quote + value.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def constant(text: str, value: object) -> Typed:
    return text, lambda _: value


def name(path: str) -> Typed:
    return path, lambda values: values[path]


numbers = st.one_of(
    st.integers(0, 10**6),
    st.floats(0, 1e6, allow_nan=False).map(abs),
    st.floats(0, 1e-3, allow_nan=False).map(abs),
)
number_operand = st.one_of(
    numbers.map(lambda n: constant(number_text(n), n)),
    st.sampled_from(["devices.total", "ratio"]).map(name),
)
strings = st.text(st.characters(codec="utf-8"), max_size=4)
string_literal = st.builds(
    lambda s, q: constant(string_text(s, q), s), strings, st.sampled_from("'\"")
)
string_operand = st.one_of(string_literal, st.sampled_from(["calendars", "microsoft"]).map(name))
string_list = st.one_of(
    st.just(name("clients")),
    st.lists(string_literal, max_size=3).map(
        lambda items: (
            "[" + ", ".join(t for t, _ in items) + "]",
            lambda values: tuple(f(values) for _, f in items),
        )
    ),
)


def compare(op: str, left: Typed, right: Typed) -> Typed:
    def meaning(values: Values) -> object:
        x, y = left[1](values), right[1](values)
        if op in _ORDER:
            return _ORDER[op](float(x), float(y))  # type: ignore[arg-type]
        if op in ("in", "not in"):
            found = x in y  # type: ignore[operator]
            return found if op == "in" else not found
        return (x == y) if op == "==" else (x != y)

    return f"{left[0]} {op} {right[0]}", meaning


leaf = st.one_of(
    st.sampled_from(["offers.imap", "backed_up"]).map(name),
    st.sampled_from([("true", True), ("false", False)]).map(lambda p: constant(*p)),
    st.builds(
        compare, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), number_operand, number_operand
    ),
    st.builds(compare, st.sampled_from(["==", "!="]), string_operand, string_operand),
    st.builds(
        compare, st.sampled_from(["==", "!="]), string_operand, st.just(constant("null", None))
    ),
    st.builds(compare, st.sampled_from(["in", "not in"]), string_operand, string_list),
)


def combine(children: st.SearchStrategy[Typed]) -> st.SearchStrategy[Typed]:
    def negate(child: Typed) -> Typed:
        return f"not ({child[0]})", lambda values: not child[1](values)

    def both(op: str, left: Typed, right: Typed) -> Typed:
        if op == "and":
            return f"({left[0]}) and ({right[0]})", lambda v: left[1](v) and right[1](v)
        return f"({left[0]}) or ({right[0]})", lambda v: left[1](v) or right[1](v)

    return st.one_of(
        children.map(negate),
        st.builds(both, st.sampled_from(["and", "or"]), children, children),
    )


well_typed = st.recursive(leaf, combine, max_leaves=8)
typed_values = st.fixed_dictionaries(
    {
        "offers.imap": st.booleans(),
        "backed_up": st.booleans(),
        "devices.total": st.integers(0, 5),
        "ratio": st.floats(0, 1e6, allow_nan=False),
        "calendars": st.sampled_from(["sync", "share", "", "'", '"']),
        "microsoft": st.one_of(st.none(), st.sampled_from(["none", "exchange"])),
        "clients": st.lists(st.sampled_from(["outlook", "sync", ""]), max_size=3).map(tuple),
    }
)


@given(condition=well_typed, values=typed_values)
@settings(max_examples=300)
def test_well_typed_conditions_check_and_evaluate_as_modelled(
    condition: Typed, values: Values
) -> None:
    text, meaning = condition
    parsed = parse(text)
    check_types(parsed, TYPES)
    assert parsed.evaluate(values) is bool(meaning(values))
    assert parse(parsed.canonical()).evaluate(values) is bool(meaning(values))


@given(text=st.text(st.sampled_from("()not a"), min_size=1, max_size=MAX_LENGTH))
@settings(max_examples=50)
def test_parens_and_nots_never_overflow_the_stack(text: str) -> None:
    with contextlib.suppress(ExprError):
        parse(text)


def test_expr_is_the_parse_result() -> None:
    condition = parse("a")
    assert isinstance(condition, Expr)
    assert condition == Expr("a", Name("a"))
    assert "tree" not in repr(condition)
