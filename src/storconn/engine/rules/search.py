"""oVirt's search language, the part the SDK, Ansible and the web admin send. Pure.

Grammar (keywords, field names and enum values case-insensitive)::

    query      := [ENTITY ":"] [expr] ["sortby" field ["asc" | "desc"]] ["page" NUMBER]
    expr       := term ("or" term)*
    term       := factor ("and" factor)*          # and binds tighter than or
    factor     := "(" expr ")" | condition | word  # a bare word is oVirt's free text
    condition  := field ("=" | "!=" | "<" | ">" | "<=" | ">=") value
    value      := word | "quoted text" | 'quoted text'   # "*" is a wildcard

``field`` may be dotted (``storage.name``, ``host.name``): oVirt's
cross-references, which the resource's field table declares like any field.

``parse`` turns the text into a ``Query`` (or raises ``SearchSyntaxError``
naming the position); ``compile_query`` checks it against a resource's
fields (``Field``) and returns one predicate, built once per request, that
the caller runs over its entities. What a field means for an entity is the
caller's business (``storconn.engine.api.searching``): here a field is a
kind, a getter and, for enums, the values oVirt accepts.

Matching as oVirt's engine does it in SQL: ``=`` is LIKE (``*`` → ``%``),
``!=`` is NOT LIKE, a value that is not set (NULL) matches neither; text is
compared case-sensitively unless ``case_sensitive=false`` (the REST
parameter, default true), enums and booleans always case-insensitively (its
enum completer upper-cases both sides); a free-text word matches when any of
the resource's text fields contains it. A field with several values (the
domains of a data center) matches when one of them does, as oVirt's join does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeAlias, TypeVar

from storconn.engine.errors import BadRequest

T = TypeVar("T")

# --- tokens ----------------------------------------------------------------


class Kind(StrEnum):
    PREFIX = "prefix"  # "Hosts:" at the very start
    WORD = "word"
    QUOTED = "quoted"
    OP = "op"
    LPAREN = "("
    RPAREN = ")"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    value: str  # the word, the text between the quotes, the operator, the prefix's entity
    start: int  # offsets into the query text: text[start:end] is the token as written
    end: int


class SearchSyntaxError(BadRequest):
    """A query oVirt's syntax checker would refuse; the key is its ``SyntaxError`` name."""

    def __init__(self, key: str, message: str, position: int) -> None:
        super().__init__(key, message)
        self.position = position


_PREFIX = re.compile(r"\s*([A-Za-z_]+)\s*:")
_SPACE = re.compile(r"\s+")
_OPS = ("!=", "<=", ">=", "=", "<", ">")
_WORD_END = re.compile(r"""[\s"'()=!<>]""")


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``END`` token; ``SearchSyntaxError`` on a stray character."""
    tokens: list[Token] = []
    pos = 0
    prefix = _PREFIX.match(text)
    if prefix:
        tokens.append(Token(Kind.PREFIX, prefix.group(1), prefix.start(1), prefix.end()))
        pos = prefix.end()
    while True:
        space = _SPACE.match(text, pos)
        if space:
            pos = space.end()
        if pos >= len(text):
            tokens.append(Token(Kind.END, "", len(text), len(text)))
            return tokens
        char = text[pos]
        if char in "\"'":
            close = text.find(char, pos + 1)
            if close == -1:
                raise SearchSyntaxError("INVALID_CONDITION_VALUE",
                                        f"Search: the quote at position {pos + 1} is never closed.", pos + 1)
            tokens.append(Token(Kind.QUOTED, text[pos + 1 : close], pos, close + 1))
            pos = close + 1
        elif char in "()":
            tokens.append(Token(Kind.LPAREN if char == "(" else Kind.RPAREN, char, pos, pos + 1))
            pos += 1
        elif char in "=!<>":
            op = next((o for o in _OPS if text.startswith(o, pos)), None)
            if op is None:  # a lone "!"
                raise SearchSyntaxError("INVALID_CHARECTER",
                                        f"Search: unexpected {char!r} at position {pos + 1}.", pos + 1)
            tokens.append(Token(Kind.OP, op, pos, pos + len(op)))
            pos += len(op)
        else:
            end_match = _WORD_END.search(text, pos)
            end = end_match.start() if end_match else len(text)
            tokens.append(Token(Kind.WORD, text[pos:end], pos, end))
            pos = end


# --- the parsed query ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    field: str  # lower-cased
    op: str
    value: str
    position: int  # 1-based, of the field


@dataclass(frozen=True, slots=True)
class FreeText:
    value: str
    position: int


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple[Expr, ...]


Expr: TypeAlias = Condition | FreeText | And | Or


@dataclass(frozen=True, slots=True)
class Query:
    entity: str | None = None  # the "Hosts:" prefix, lower-cased
    expr: Expr | None = None  # None: everything
    sort_field: str | None = None
    sort_position: int = 0
    descending: bool = False
    page: int | None = None


_KEYWORDS = frozenset({"and", "or", "sortby", "page"})
_MAX_DEPTH = 32


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        if token.kind is not Kind.END:
            self.at += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind is Kind.WORD and token.value.lower() in words

    def fail(self, token: Token, expected: str, key: str = "INVALID_POST_CONDITION_VALUE_PHRASE") -> SearchSyntaxError:
        found = "the end of the query" if token.kind is Kind.END else repr(token.value if token.kind is not Kind.QUOTED
                                                                            else f'"{token.value}"')
        return SearchSyntaxError(key, f"Search: expected {expected} at position {token.start + 1}, "
                                      f"found {found}.", token.start + 1)

    def query(self) -> Query:
        entity = self.take().value.lower() if self.peek().kind is Kind.PREFIX else None
        expr = None
        if not (self.peek().kind is Kind.END or self.keyword("sortby", "page")):
            expr = self.expr()
        sort_field, sort_position, descending = None, 0, False
        if self.keyword("sortby"):
            self.take()
            name = self.take()
            if name.kind is not Kind.WORD or name.value.lower() in _KEYWORDS:
                raise self.fail(name, "a field to sort by", "INVALID_SORT_FIELD")
            sort_field, sort_position = name.value.lower(), name.start + 1
            if self.keyword("asc", "desc"):
                descending = self.take().value.lower() == "desc"
        page = None
        if self.keyword("page"):
            self.take()
            number = self.peek()
            if number.kind is Kind.WORD and number.value.isascii() and number.value.isdigit():
                self.take()
                page = max(int(number.value), 1)
            else:
                page = 1  # oVirt: "page" without a number is the first page
        end = self.peek()
        if end.kind is not Kind.END:
            what = "'and', 'or', 'sortby' or 'page'" if expr is not None else "a condition"
            raise self.fail(end, what)
        return Query(entity, expr, sort_field, sort_position, descending, page)

    def expr(self) -> Expr:
        parts = [self.term()]
        while self.keyword("or"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def term(self) -> Expr:
        parts = [self.factor()]
        while self.keyword("and"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def factor(self) -> Expr:
        token = self.peek()
        if token.kind is Kind.LPAREN:
            self.take()
            self.depth += 1
            if self.depth > _MAX_DEPTH:  # a bound, so that no query can exhaust the stack (a 500)
                raise SearchSyntaxError("INVALID_CHARECTER", f"Search: parentheses nest deeper than {_MAX_DEPTH} "
                                                             f"at position {token.start + 1}.", token.start + 1)
            inner = self.expr()
            self.depth -= 1
            close = self.peek()
            if close.kind is not Kind.RPAREN:
                raise self.fail(close, "')'")
            self.take()
            return inner
        if token.kind is Kind.QUOTED:
            self.take()
            return FreeText(token.value, token.start + 1)
        if token.kind is not Kind.WORD or token.value.lower() in _KEYWORDS:
            raise self.fail(token, "a condition (field=value) or a word", "INVALID_CONDITION_FILED")
        self.take()
        if self.peek().kind is not Kind.OP:
            return FreeText(token.value, token.start + 1)
        op = self.take().value
        value = self.peek()
        if value.kind not in (Kind.WORD, Kind.QUOTED):
            raise self.fail(value, f"a value after '{token.value}{op}'", "INVALID_CONDITION_VALUE")
        self.take()
        return Condition(token.value.lower(), op, value.value, token.start + 1)


def parse(text: str) -> Query:
    """The query in ``text``; ``SearchSyntaxError`` (a 400 naming the position) when it is not one."""
    return _Parser(text).query()


# --- fields and evaluation -------------------------------------------------

Value: TypeAlias = "str | bool | None | Sequence[str]"


class FieldKind(StrEnum):
    TEXT = "text"  # LIKE, case-sensitive unless case_sensitive=false
    ID = "id"  # a UUID: always case-insensitive
    ENUM = "enum"  # one of ``values``, case- and underscore-insensitive
    BOOL = "bool"


@dataclass(frozen=True, slots=True)
class Field(Generic[T]):
    """One searchable field of a resource: how to read it from an entity."""

    kind: FieldKind
    get: Callable[[T], Value]
    values: tuple[str, ...] = ()  # for ENUM: what oVirt accepts (API spelling)
    free_text: bool = False  # searched by a bare word


def _enum_key(text: str) -> str:
    """oVirt's enum spelling and the API's are one: ``NonResponsive`` = ``non_responsive``."""
    return text.replace("_", "").replace("-", "").replace(" ", "").lower()


def _like(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _values(value: Value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, str):
        return [value]
    return list(value)


def _field_error(resource: str, name: str, position: int, fields: Mapping[str, object], key: str) -> SearchSyntaxError:
    known = ", ".join(sorted(fields))
    return SearchSyntaxError(key, f"Search: unknown field '{name}' at position {position} for {resource}; "
                                  f"known fields: {known}.", position)


def _condition(c: Condition, fields: Mapping[str, Field[T]], resource: str,
               case_sensitive: bool) -> Callable[[T], bool]:
    spec = fields.get(c.field)
    if spec is None:
        raise _field_error(resource, c.field, c.position, fields, "INVALID_CONDITION_FILED")
    if c.op not in ("=", "!="):
        raise SearchSyntaxError("INVALID_CONDITION_RELATION",
                                f"Search: '{c.field}' at position {c.position} takes only = and !=, "
                                f"not {c.op}.", c.position)
    get = spec.get
    if spec.kind in (FieldKind.ENUM, FieldKind.BOOL):
        allowed = spec.values if spec.kind is FieldKind.ENUM else ("true", "false")
        keys = {_enum_key(v) for v in allowed}
        wanted = _enum_key(c.value)
        if "*" in wanted:
            pattern = _like(wanted, ignore_case=True)
            keys = {k for k in keys if pattern.fullmatch(k)}
        elif wanted not in keys:
            raise SearchSyntaxError("INVALID_CONDITION_VALUE",
                                    f"Search: '{c.value}' at position {c.position} is not a value of "
                                    f"'{c.field}'; one of: {', '.join(allowed)}.", c.position)
        else:
            keys = {wanted}

        def hit(value: str) -> bool:
            return _enum_key(value) in keys
    else:
        regex = _like(c.value, ignore_case=spec.kind is FieldKind.ID or not case_sensitive)

        def hit(value: str) -> bool:
            return regex.fullmatch(value) is not None

    if c.op == "=":
        return lambda item: any(hit(v) for v in _values(get(item)))
    # NOT LIKE over a join: some value that does not match; a value not set (NULL) matches nothing.
    return lambda item: any(not hit(v) for v in _values(get(item)))


def _free_text(word: FreeText, fields: Mapping[str, Field[T]], case_sensitive: bool) -> Callable[[T], bool]:
    getters = [f.get for f in fields.values() if f.free_text]
    regex = _like(f"*{word.value}*", ignore_case=not case_sensitive)

    def match(item: T) -> bool:
        return any(regex.fullmatch(v) for get in getters for v in _values(get(item)))

    return match


def _compile(expr: Expr, fields: Mapping[str, Field[T]], resource: str,
             case_sensitive: bool) -> Callable[[T], bool]:
    if isinstance(expr, Condition):
        return _condition(expr, fields, resource, case_sensitive)
    if isinstance(expr, FreeText):
        return _free_text(expr, fields, case_sensitive)
    parts = [_compile(p, fields, resource, case_sensitive) for p in expr.parts]
    if isinstance(expr, And):
        return lambda item: all(p(item) for p in parts)
    return lambda item: any(p(item) for p in parts)


@dataclass(frozen=True, slots=True)
class Compiled(Generic[T]):
    """A checked query: its predicate and how to order and page what passes."""

    predicate: Callable[[T], bool]
    sort_key: Callable[[T], tuple[bool, str]] | None = None
    descending: bool = False
    page: int | None = None
    fields_used: frozenset[str] = field(default_factory=frozenset)

    def apply(self, items: Iterable[T], *, max: int | None, page_size: int) -> list[T]:
        """Filter, sort, page (``page N`` takes pages of ``max``, or of ``page_size``), then ``max``."""
        found = [i for i in items if self.predicate(i)]
        if self.sort_key is not None:
            found.sort(key=self.sort_key, reverse=self.descending)
        if self.page is not None:
            size = max if max is not None else page_size
            found = found[(self.page - 1) * size :]
        return found if max is None else found[:max]


def compile_query(query: Query, fields: Mapping[str, Field[T]], *, resource: str,
                  entities: Iterable[str] = (), case_sensitive: bool = True) -> Compiled[T]:
    """Check ``query`` against ``fields`` (400 naming an unknown field or value) and build its predicate.

    ``entities`` are the names the resource answers to in a prefix
    (``hosts``, ``host``); a prefix naming another resource is refused.
    """
    names = {e.lower() for e in entities}
    if query.entity is not None and names and query.entity not in names:
        raise SearchSyntaxError("INVALID_SEARCH_OBJECT",
                                f"Search: '{query.entity}:' does not search {resource}; "
                                f"use {sorted(names)[0].capitalize()}: or no prefix.", 1)
    predicate: Callable[[T], bool] = (
        (lambda _item: True) if query.expr is None else _compile(query.expr, fields, resource, case_sensitive)
    )
    sort_key = None
    if query.sort_field is not None:
        spec = fields.get(query.sort_field)
        if spec is None:
            raise _field_error(resource, query.sort_field, query.sort_position, fields, "INVALID_SORT_FIELD")
        get = spec.get

        def sort_key(item: T) -> tuple[bool, str]:
            values = _values(get(item))
            text = values[0] if values else ""
            return (not values, text if case_sensitive else text.lower())

    return Compiled(predicate, sort_key, query.descending, query.page, frozenset(_used(query.expr)))


def _used(expr: Expr | None) -> Iterable[str]:
    if isinstance(expr, Condition):
        yield expr.field
    elif isinstance(expr, (And, Or)):
        for part in expr.parts:
            yield from _used(part)


def render(query: Query) -> str:
    """``query`` as text that parses back to the same ``Query`` (positions aside)."""
    out = [f"{query.entity}:"] if query.entity else []
    if query.expr is not None:
        out.append(_render(query.expr))
    if query.sort_field:
        out.append(f"sortby {query.sort_field}{' desc' if query.descending else ''}")
    if query.page is not None:
        out.append(f"page {query.page}")
    return " ".join(out)


def _quote(value: str) -> str:
    return f"'{value}'" if '"' in value else f'"{value}"'


def _render(expr: Expr) -> str:
    if isinstance(expr, Condition):
        return f"{expr.field}{expr.op}{_quote(expr.value)}"
    if isinstance(expr, FreeText):
        return _quote(expr.value)
    joiner = " and " if isinstance(expr, And) else " or "
    return "(" + joiner.join(_render(p) for p in expr.parts) + ")"
