"""The table of the engine's events (``EventKind``): codes, texts, and what ``build``'s callers give them.

The texts and codes themselves are pinned by the events tests over REST
(tests/integration/engine/test_api_events*.py, test_events_store.py); here,
what keeps the table whole: one row a code, every placeholder one that
``build`` fills, and every call of ``build`` in the engine giving each kind
it can build what that kind's text names (a text with an unfilled
``${VdsName}`` would print it as it is).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from string import Template

import pytest

from storconn.engine.model import DataCenter, Host, StorageConnection, StorageDomain, StorageType
from storconn.engine.rules import events
from storconn.engine.rules.events import PLACEHOLDERS, Code, EventKind

ENGINE = Path(events.__file__).resolve().parents[1]  # src/storconn/engine
EVENTS_MODULE = "storconn.engine.rules.events"


def needs(kind: EventKind) -> set[str]:
    """The arguments of ``build`` that fill ``kind``'s placeholders."""
    names = set(Template(kind.template).get_identifiers()) - {"UserName"}
    return {PLACEHOLDERS[name] for name in names}


def test_each_code_is_one_row() -> None:
    codes = [kind.code for kind in EventKind]
    assert len(codes) == len(set(codes))


def test_every_code_the_engine_names_has_its_row() -> None:
    named = {value for name, value in vars(Code).items() if name.isupper() and isinstance(value, int)}
    assert named == {kind.code for kind in EventKind}
    # External events are the client's own texts: no row, and no row takes their codes.
    assert not set(Code.EXTERNAL.values()) & named


def test_storconns_own_codes_stay_in_its_block() -> None:
    # oVirt's AuditLogType numbers stay below 19001; a code of ours above it must be in our block.
    for kind in EventKind:
        assert kind.code < 19001 or kind.code in events.STORCONN_CODES, kind


@pytest.mark.parametrize("kind", list(EventKind), ids=lambda kind: kind.name)
def test_every_placeholder_is_one_build_fills(kind: EventKind) -> None:
    template = Template(kind.template)
    assert template.is_valid(), kind.template
    unknown = set(template.get_identifiers()) - set(PLACEHOLDERS) - {"UserName"}
    assert not unknown, (kind, unknown)


SAMPLES = {
    "connection": StorageConnection(id="c-1", type=StorageType.NFS, connection="filer:/exports/data"),
    "domain": StorageDomain(id="d-1", name="data1", storage_type=StorageType.NFS, connection_ids=["c-1"]),
    "data_center": DataCenter(id="dc-1", name="dc1"),
    "host": Host(id="h-1", name="h1", address="127.0.0.1", port=1, data_center_id="dc-1"),
    "error": "[477] mount failed",
}


@pytest.mark.parametrize("kind", list(EventKind), ids=lambda kind: kind.name)
def test_built_with_what_its_text_names_every_placeholder_is_filled(kind: EventKind) -> None:
    event = events.build(kind, **{name: SAMPLES[name] for name in needs(kind)})  # type: ignore[arg-type]
    assert (event.code, event.template, event.severity) == (kind.code, kind.template, kind.severity)
    text = events.render(event, "admin@internal")
    assert "${" not in text and "$" not in text, text


# -- the callers ------------------------------------------------------------------------------


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.FunctionDef | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef):
            return node
    return None


class Module:
    """One source file of the engine: its calls of ``build`` and what each can be asked to build."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(), str(path))
        self.parents = _parents(self.tree)
        # The names the events module goes by here (``event_rules``), and whether ``build`` is its own.
        self.aliases = {
            alias.asname or alias.name
            for node in ast.walk(self.tree)
            if isinstance(node, ast.ImportFrom) and node.module == "storconn.engine.rules"
            for alias in node.names
            if alias.name == "events"
        }
        self.own = path == Path(events.__file__).resolve()

    def build_calls(self) -> Iterator[ast.Call]:
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if self.own and isinstance(func, ast.Name) and func.id == "build":
                yield node
            elif (isinstance(func, ast.Attribute) and func.attr == "build"
                  and isinstance(func.value, ast.Name) and func.value.id in self.aliases):
                yield node

    def kinds(self, expr: ast.expr, scope: ast.FunctionDef | None) -> set[str]:
        """The ``EventKind`` members ``expr`` can be, followed through names and parameters."""
        if isinstance(expr, ast.Attribute) and (
            (isinstance(expr.value, ast.Name) and expr.value.id == "EventKind")
            or (isinstance(expr.value, ast.Attribute) and expr.value.attr == "EventKind")
        ):
            return {expr.attr}
        if isinstance(expr, ast.IfExp):
            return self.kinds(expr.body, scope) | self.kinds(expr.orelse, scope)
        if isinstance(expr, ast.Tuple | ast.List):
            return set().union(*(self.kinds(item, scope) for item in expr.elts))
        if isinstance(expr, ast.Name) and scope is not None:
            found = self._bound(expr.id, scope) | self._passed(expr.id, scope)
            assert found, f"{self.path}:{expr.lineno}: cannot tell which events {expr.id!r} is"
            return found
        raise AssertionError(f"{self.path}:{expr.lineno}: cannot tell which event {ast.unparse(expr)!r} is")

    def _bound(self, name: str, scope: ast.FunctionDef) -> set[str]:
        """What ``name = ...`` and ``for name in ...`` in ``scope`` give it."""
        found: set[str] = set()
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == name for target in node.targets
            ):
                found |= self.kinds(node.value, scope)
            elif isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == name:
                found |= self.kinds(node.iter, scope)
        return found

    def _passed(self, name: str, scope: ast.FunctionDef) -> set[str]:
        """When ``name`` is a parameter of ``scope``: what the calls of it in this module pass."""
        params = [arg.arg for arg in scope.args.args]
        if name not in params:
            return set()
        found: set[str] = set()
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == scope.name:
                position = params.index(name) - (1 if params[:1] == ["self"] else 0)
            elif isinstance(func, ast.Name) and func.id == scope.name:
                position = params.index(name)
            else:
                continue
            caller = _function(node, self.parents)
            given = [kw.value for kw in node.keywords if kw.arg == name]
            if position < len(node.args):
                given.append(node.args[position])
            for value in given:
                found |= self.kinds(value, caller)
        return found


def _calls() -> Iterator[tuple[str, set[str], set[str]]]:
    """Every call of ``build`` in the engine: where, the kinds it can build, the arguments it gives."""
    for path in sorted(ENGINE.rglob("*.py")):
        module = Module(path)
        for call in module.build_calls():
            where = f"{path.relative_to(ENGINE)}:{call.lineno}"
            assert call.args, f"{where}: build without its kind"
            assert all(kw.arg is not None for kw in call.keywords), f"{where}: build(**...) cannot be checked"
            given = {kw.arg for kw in call.keywords if kw.arg is not None}
            yield where, module.kinds(call.args[0], _function(call, module.parents)), given


def test_every_caller_gives_what_the_text_names() -> None:
    calls = list(_calls())
    assert len(calls) > 10, calls  # the walk found the engine's callers
    for where, kinds, given in calls:
        for name in kinds:
            missing = needs(EventKind[name]) - given
            assert not missing, f"{where}: {name} needs {sorted(missing)}"


def test_every_row_is_built_somewhere() -> None:
    built = set().union(*(kinds for _, kinds, _ in _calls()))
    assert built == {kind.name for kind in EventKind}
