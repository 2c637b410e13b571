"""oVirt's search language on its own: the tokenizer, the parser, the fields' matching."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storconn.engine.rules.search import (
    And,
    Condition,
    Expr,
    Field,
    FieldKind,
    FreeText,
    Kind,
    Or,
    Query,
    SearchSyntaxError,
    compile_query,
    parse,
    render,
    tokenize,
)


@dataclass
class Thing:
    name: str
    status: str
    dc: str | None = None
    tags: tuple[str, ...] = ()
    local: bool = False


FIELDS: dict[str, Field[Thing]] = {
    "name": Field(FieldKind.TEXT, lambda t: t.name, free_text=True),
    "status": Field(FieldKind.ENUM, lambda t: t.status, ("up", "maintenance", "non_responsive")),
    "datacenter": Field(FieldKind.TEXT, lambda t: t.dc, free_text=True),
    "storage": Field(FieldKind.TEXT, lambda t: t.tags),
    "storage.name": Field(FieldKind.TEXT, lambda t: t.tags),
    "local": Field(FieldKind.BOOL, lambda t: t.local),
}
THINGS = [
    Thing("alpha", "up", "dc1", ("sd1", "sd2")),
    Thing("Beta", "maintenance", "dc2", ("sd3",), local=True),
    Thing("gamma one", "non_responsive", None),
]


def names(query: str, *, case_sensitive: bool = True, max: int | None = None) -> list[str]:
    compiled = compile_query(parse(query), FIELDS, resource="things", entities=("things", "thing"),
                             case_sensitive=case_sensitive)
    return [t.name for t in compiled.apply(THINGS, max=max, page_size=2)]


# --- parsing -----------------------------------------------------------------


def test_a_condition_with_each_operator_and_quoting() -> None:
    assert parse("name=x").expr == Condition("name", "=", "x", 1)
    assert parse("name != x").expr == Condition("name", "!=", "x", 1)
    assert parse('name="a b"').expr == Condition("name", "=", "a b", 1)
    assert parse("name='a \"b\"'").expr == Condition("name", "=", 'a "b"', 1)
    assert parse("NAME=X").expr == Condition("name", "=", "X", 1)  # the field lower-cased, the value kept


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a, b, c = (Condition("name", "=", v, 0) for v in "abc")
    shape = parse("name=a or name=b AND name=c").expr
    assert isinstance(shape, Or) and isinstance(shape.parts[1], And)
    grouped = parse("(name=a Or name=b) and name=c").expr
    assert isinstance(grouped, And) and isinstance(grouped.parts[0], Or)
    assert len(grouped.parts) == 2 and (a, b, c)


def test_prefix_sortby_and_page() -> None:
    query = parse("Hosts: status=up sortby name desc page 3")
    assert query == Query("hosts", Condition("status", "=", "up", 8), "name", 25, True, 3)
    assert parse("Hosts:") == Query("hosts")
    assert parse("page 2").page == 2
    assert parse("sortby name").descending is False
    assert parse("").expr is None and parse("   ").expr is None


def test_a_bare_word_is_free_text() -> None:
    assert parse("alpha").expr == FreeText("alpha", 1)
    assert parse('"gamma one"').expr == FreeText("gamma one", 1)


@pytest.mark.parametrize(("text", "position", "key"), [
    ("name=", 6, "INVALID_CONDITION_VALUE"),
    ("name=x y", 8, "INVALID_POST_CONDITION_VALUE_PHRASE"),
    ("name=x and", 11, "INVALID_CONDITION_FILED"),
    ("(name=x", 8, "INVALID_POST_CONDITION_VALUE_PHRASE"),
    ("name=x)", 7, "INVALID_POST_CONDITION_VALUE_PHRASE"),
    ('name="x', 6, "INVALID_CONDITION_VALUE"),
    ("!name", 1, "INVALID_CHARECTER"),
    ("= x", 1, "INVALID_CONDITION_FILED"),
    ("sortby", 7, "INVALID_SORT_FIELD"),
])
def test_a_syntax_error_names_its_position(text: str, position: int, key: str) -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse(text)
    assert caught.value.position == position
    assert caught.value.key == key
    assert f"position {position}" in caught.value.message
    assert caught.value.status == 400


def test_deep_parentheses_are_a_syntax_error_not_a_crash() -> None:
    assert parse("(" * 32 + "name=x" + ")" * 32).expr == Condition("name", "=", "x", 33)
    with pytest.raises(SearchSyntaxError, match="deeper than 32 at position 33"):
        parse("(" * 5000 + "name=x" + ")" * 5000)


# --- evaluating ----------------------------------------------------------------


def test_equal_and_not_equal_with_wildcards() -> None:
    assert names("name=alpha") == ["alpha"]
    assert names("name=a*") == ["alpha"]
    assert names("name=*a") == ["alpha", "Beta", ]
    assert names("name!=alpha") == ["Beta", "gamma one"]
    assert names('name="gamma one"') == ["gamma one"]


def test_text_is_case_sensitive_unless_asked_otherwise_enums_never() -> None:
    assert names("name=beta") == []
    assert names("name=beta", case_sensitive=False) == ["Beta"]
    assert names("STATUS=UP") == ["alpha"]
    assert names("status=NonResponsive") == ["gamma one"]  # oVirt's own spelling of the enum
    assert names("status=non_responsive") == ["gamma one"]


def test_and_or_relations_and_booleans() -> None:
    assert names("datacenter=dc1 or datacenter=dc2") == ["alpha", "Beta"]
    assert names("name=alpha and datacenter=dc2") == []
    assert names("storage=sd2") == ["alpha"]
    assert names("storage.name=sd*") == ["alpha", "Beta"]
    assert names("local=true") == ["Beta"]
    assert names("datacenter!=dc1") == ["Beta"]  # a value not set matches neither = nor !=


def test_free_text_searches_the_text_fields() -> None:
    assert names("dc2") == ["Beta"]
    assert names("mma") == ["gamma one"]


def test_sort_page_and_max() -> None:
    assert names("sortby name desc") == ["gamma one", "alpha", "Beta"]
    assert names("sortby name", case_sensitive=False) == ["alpha", "Beta", "gamma one"]
    assert names("page 2") == ["gamma one"]  # pages of page_size without max
    assert names("page 2", max=1) == ["Beta"]
    assert names("name=*", max=2) == ["alpha", "Beta"]


def test_the_prefix_must_name_the_resource() -> None:
    assert names("Things: status=up") == ["alpha"]
    with pytest.raises(SearchSyntaxError) as caught:
        names("Vms: status=up")
    assert caught.value.key == "INVALID_SEARCH_OBJECT" and "'vms:'" in caught.value.message


def test_an_unknown_field_names_itself_and_the_known_ones() -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        names("name=x and colour=red")
    error = caught.value
    assert error.key == "INVALID_CONDITION_FILED" and error.position == 12
    assert "'colour'" in error.message
    assert "datacenter, local, name, status, storage, storage.name" in error.message
    with pytest.raises(SearchSyntaxError, match="'size'"):
        names("sortby size")


def test_a_value_outside_an_enum_and_an_unsupported_relation_are_refused() -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        names("status=active")
    assert caught.value.key == "INVALID_CONDITION_VALUE"
    assert "up, maintenance, non_responsive" in caught.value.message
    with pytest.raises(SearchSyntaxError) as relation:
        names("name>a")
    assert relation.value.key == "INVALID_CONDITION_RELATION"


# --- properties ----------------------------------------------------------------


@settings(max_examples=300)
@given(st.text())
def test_any_text_parses_or_fails_with_a_syntax_error(text: str) -> None:
    try:
        query = parse(text)
    except SearchSyntaxError as error:
        assert 1 <= error.position <= len(text) + 1
        return
    assert isinstance(query, Query)


@settings(max_examples=300)
@given(st.text())
def test_tokens_cover_the_text_in_order(text: str) -> None:
    try:
        tokens = tokenize(text)
    except SearchSyntaxError:
        return
    assert tokens[-1].kind is Kind.END
    pos = 0
    for token in tokens[:-1]:
        assert token.start >= pos and text[pos:token.start].strip() == ""
        if token.kind is Kind.WORD or token.kind is Kind.OP:
            assert text[token.start:token.end] == token.value
        elif token.kind is Kind.QUOTED:
            assert text[token.start + 1:token.end - 1] == token.value
        pos = token.end
    assert text[pos:].strip() == ""


_WORDS = st.text(st.characters(codec="utf-8", exclude_characters="\"'()=!<> \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"
                               "\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029"
                               "\u202f\u205f\u3000"), min_size=1).filter(str.isprintable)
_FIELDS = st.sampled_from(["name", "status", "storage.name", "datacenter"])
_VALUES = st.text(st.characters(codec="utf-8", exclude_characters="\"'"), max_size=12)
_LEAVES: st.SearchStrategy[Expr] = st.one_of(
    st.builds(Condition, _FIELDS, st.sampled_from(["=", "!="]), _VALUES, st.just(0)),
    st.builds(FreeText, _VALUES, st.just(0)),
)
_EXPRS = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
    st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
), max_leaves=8)


@given(_EXPRS, st.booleans(), st.none() | st.integers(1, 50))
def test_render_and_parse_round_trip(expr: Expr, descending: bool, page: int | None) -> None:
    query = Query("hosts", expr, "name", 0, descending, page)
    text = render(query)
    again = parse(text)
    assert render(again) == text
    as_text = {name: Field(FieldKind.TEXT, spec.get, free_text=True) for name, spec in FIELDS.items()}
    compiled = compile_query(again, as_text, resource="things", case_sensitive=False)
    assert isinstance(compiled.apply(THINGS, max=None, page_size=10), list)


@given(_WORDS)
def test_a_word_parses_as_free_text_or_a_prefix(word: str) -> None:
    try:
        query = parse(word)
    except SearchSyntaxError:
        return
    assert query.expr is None or isinstance(query.expr, FreeText)
