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
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, TypeAlias

Scalar: TypeAlias = str | int | bool
Value: TypeAlias = "Scalar | Obj | Many"

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
class Collection:
    """A whole list document: ``<storage_connections><storage_connection/>...</storage_connections>``."""

    plural: str
    singular: str
    items: list[Obj] = field(default_factory=list)


Document: TypeAlias = Obj | Collection


def clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    return _NOT_XML_CHAR.sub("", text)


def _scalar_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return clean(value)


# --- XML -------------------------------------------------------------------


def _xml_obj(obj: Obj, tag: str | None = None) -> ET.Element:
    element = ET.Element(tag or obj.tag, {k: clean(v) for k, v in obj.attrs.items()})
    if obj.actions:
        actions = ET.SubElement(element, "actions")
        for rel, href in obj.actions:
            ET.SubElement(actions, "link", {"href": clean(href), "rel": rel})
    for name, value in obj.items:
        _xml_item(element, name, value)
    for rel, href in obj.links:
        ET.SubElement(element, "link", {"href": clean(href), "rel": rel})
    return element


def _xml_item(parent: ET.Element, name: str, value: Value) -> None:
    if isinstance(value, Obj):
        parent.append(_xml_obj(value, name))
    elif isinstance(value, Many):
        plural = ET.SubElement(parent, name)
        for item in value.items:
            plural.append(_xml_obj(item, value.singular))
    else:
        ET.SubElement(parent, name).text = _scalar_text(value)


def to_xml(document: Document) -> bytes:
    """The document as oVirt's XML, UTF-8, with an XML declaration, indented."""
    if isinstance(document, Collection):
        root = ET.Element(document.plural)
        for item in document.items:
            root.append(_xml_obj(item, document.singular))
    else:
        root = _xml_obj(document)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + body + "\n").encode()


# --- JSON ------------------------------------------------------------------


def _json_obj(obj: Obj) -> dict[str, Any]:
    out: dict[str, Any] = {k: clean(v) for k, v in obj.attrs.items()}
    if obj.actions:
        out["actions"] = {"link": [{"href": clean(h), "rel": r} for r, h in obj.actions]}
    for name, value in obj.items:
        if isinstance(value, Obj):
            out[name] = _json_obj(value)
        elif isinstance(value, Many):
            out[name] = {value.singular: [_json_obj(i) for i in value.items]} if value.items else {}
        else:
            out[name] = _scalar_text(value)
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
    return json.dumps(data, ensure_ascii=False, indent=2).encode()
