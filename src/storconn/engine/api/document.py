"""What the API answers with: a small tree that renders to oVirt's XML or JSON.

An ``Obj`` is one entity (``<storage_connection href=".." id="..">``): its
attributes, its elements in order, its ``<link rel=...>`` elements and its
``<actions>``. A ``Many`` is a list element inside an entity
(``<data_centers><data_center/>...</data_centers>``); a ``Collection`` is a
whole list document (``<storage_connections>``).

The two renderings follow oVirt's engine:

- XML: ``<?xml ...?>`` then the elements; integers and booleans as text
  (``3260``, ``true``); links as ``<link href=".." rel=".."/>``.
- JSON: an entity is an object whose attributes and elements are keys; a
  collection is ``{"storage_connection": [...]}`` (``{}`` when empty); a list
  element is ``{"data_center": [...]}``; links are ``"link": [{"href", "rel"}]``.
  Scalars are strings, as oVirt's engine renders them (``"port": "3260"``,
  ``"local": "false"``); clients parse them like the XML text.

Strings are cleaned of characters XML 1.0 cannot carry, so that no stored
value can make a document the clients fail to parse.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, TypeAlias

Scalar: TypeAlias = str | int | bool
Value: TypeAlias = "Scalar | Obj | Many | Texts"

# Characters outside XML 1.0's Char production.
_NOT_XML_CHAR = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(slots=True)
class Obj:
    """One entity: ``<tag href=".." id="..">`` with its elements, links and actions."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    items: list[tuple[str, Value]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)  # (rel, href)
    actions: list[tuple[str, str]] = field(default_factory=list)  # (rel, href)

    def add(self, name: str, value: Value | None) -> Obj:
        """Append an element; ``None`` means "not set" and adds nothing."""
        if value is not None:
            self.items.append((name, value))
        return self


@dataclass(slots=True)
class Many:
    """A list element inside an entity: ``<plural><singular/>...</plural>``."""

    singular: str
    items: list[Obj] = field(default_factory=list)


@dataclass(slots=True)
class Texts:
    """A list of strings inside an entity: ``<iscsi_targets><iscsi_target>iqn</iscsi_target>...``."""

    singular: str
    items: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Collection:
    """A whole list document: ``<storage_connections><storage_connection/>...</storage_connections>``."""

    plural: str
    singular: str
    items: list[Obj] = field(default_factory=list)


Document: TypeAlias = Obj | Collection


def clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    if text.isascii() and text.isprintable():
        return text  # the common case, checked in C: no control character at all
    return _NOT_XML_CHAR.sub("", text)


def _scalar_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return clean(value)


# --- XML -------------------------------------------------------------------
#
# Written as text, not through an ElementTree: a list of 10,000 connections
# is 70,000 elements, and building then serializing a tree of them took
# longer than the database query.

_TEXT_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))


def _escape(text: str) -> str:
    if "&" in text or "<" in text or ">" in text:
        for raw, escaped in _TEXT_ESCAPES:
            text = text.replace(raw, escaped)
    return text


def _attr(text: str) -> str:
    text = _escape(clean(text))
    return text.replace('"', "&quot;") if '"' in text else text


def _xml_obj(obj: Obj, tag: str, pad: str, out: list[str]) -> None:
    attrs = "".join([f' {k}="{_attr(v)}"' for k, v in obj.attrs.items()])
    if not (obj.actions or obj.items or obj.links):
        out.append(f"{pad}<{tag}{attrs}/>")
        return
    out.append(f"{pad}<{tag}{attrs}>")
    inner = pad + "  "
    if obj.actions:
        out.append(f"{inner}<actions>")
        out.extend(f'{inner}  <link href="{_attr(href)}" rel="{rel}"/>' for rel, href in obj.actions)
        out.append(f"{inner}</actions>")
    for name, value in obj.items:
        if type(value) is str:
            # Most values: plain text with nothing to clean or escape, checked in C.
            if not (value.isascii() and value.isprintable()) or "&" in value or "<" in value or ">" in value:
                value = _escape(clean(value))
            out.append(f"{inner}<{name}>{value}</{name}>")
        elif isinstance(value, Obj):
            _xml_obj(value, name, inner, out)
        elif isinstance(value, Many):
            if not value.items:
                out.append(f"{inner}<{name}/>")
                continue
            out.append(f"{inner}<{name}>")
            for item in value.items:
                _xml_obj(item, value.singular, inner + "  ", out)
            out.append(f"{inner}</{name}>")
        elif isinstance(value, Texts):
            texts = "".join(f"<{value.singular}>{_escape(clean(t))}</{value.singular}>" for t in value.items)
            out.append(f"{inner}<{name}>{texts}</{name}>" if texts else f"{inner}<{name}/>")
        else:
            out.append(f"{inner}<{name}>{_escape(_scalar_text(value))}</{name}>")
    out.extend(f'{inner}<link href="{_attr(href)}" rel="{rel}"/>' for rel, href in obj.links)
    out.append(f"{pad}</{tag}>")


def to_xml(document: Document) -> bytes:
    """The document as oVirt's XML, UTF-8, with an XML declaration, indented."""
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>']
    if isinstance(document, Collection):
        if not document.items:
            out.append(f"<{document.plural}/>")
        else:
            out.append(f"<{document.plural}>")
            for item in document.items:
                _xml_obj(item, document.singular, "  ", out)
            out.append(f"</{document.plural}>")
    else:
        _xml_obj(document, document.tag, "", out)
    out.append("")
    return "\n".join(out).encode()


# --- JSON ------------------------------------------------------------------


def _json_obj(obj: Obj) -> dict[str, Any]:
    out: dict[str, Any] = {k: v if v.isascii() and v.isprintable() else clean(v) for k, v in obj.attrs.items()}
    if obj.actions:
        out["actions"] = {"link": [{"href": clean(h), "rel": r} for r, h in obj.actions]}
    for name, value in obj.items:
        kind = type(value)
        if kind is str:  # most values: plain text, nothing to convert or clean
            out[name] = value if value.isascii() and value.isprintable() else clean(value)  # type: ignore[union-attr,arg-type]
        elif kind is Obj:
            out[name] = _json_obj(value)  # type: ignore[arg-type]
        elif kind is Many:
            many: Many = value  # type: ignore[assignment]
            out[name] = {many.singular: [_json_obj(i) for i in many.items]} if many.items else {}
        elif kind is Texts:
            texts: Texts = value  # type: ignore[assignment]
            out[name] = {texts.singular: [clean(t) for t in texts.items]} if texts.items else {}
        else:
            out[name] = _scalar_text(value)  # type: ignore[arg-type]
    if obj.links:
        out["link"] = [{"href": clean(h), "rel": r} for r, h in obj.links]
    return out


def to_json(document: Document) -> bytes:
    """The document as oVirt's JSON (see the module docstring), UTF-8."""
    if isinstance(document, Collection):
        items = [_json_obj(i) for i in document.items]
        data: dict[str, Any] = {document.singular: items} if items else {}
    else:
        data = _json_obj(document)
    # Compact: with ``indent`` json falls back to its pure-Python encoder,
    # three times slower on a long list.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
