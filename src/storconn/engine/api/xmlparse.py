"""A small, safe XML parser: a request body into plain nodes.

It drives expat directly so that a document type declaration is refused
outright: no internal or external entities, hence no entity expansion bombs
and no reads of local files or URLs. Namespaces are not processed: a
prefixed name (``ns:address``) is just a name no schema knows. Nesting is
bounded, and the nodes are built without recursion.
"""

from __future__ import annotations

import xml.parsers.expat as expat
from dataclasses import dataclass, field

MAX_DEPTH = 32


class XmlSyntaxError(ValueError):
    """The body is not well-formed XML, or uses something this parser refuses."""


@dataclass(slots=True)
class XmlNode:
    tag: str
    attrs: dict[str, str]
    children: list[XmlNode] = field(default_factory=list)
    text_parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The character data directly inside this element (not its children's)."""
        return "".join(self.text_parts)


def parse_xml(data: bytes) -> XmlNode:
    """The document's root element; XmlSyntaxError for anything malformed or refused."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[XmlNode] = []
    roots: list[XmlNode] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise XmlSyntaxError(f"elements are nested deeper than {MAX_DEPTH} levels")
        node = XmlNode(tag, dict(attrs))
        if stack:
            stack[-1].children.append(node)
        else:
            roots.append(node)
        stack.append(node)

    def end(tag: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1].text_parts.append(data)

    def refuse_doctype(*args: object) -> None:
        raise XmlSyntaxError("document type declarations are not allowed")

    def refuse_entity(*args: object) -> None:
        raise XmlSyntaxError("entity declarations are not allowed")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity  # type: ignore[assignment]
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        message = expat.errors.messages.get(exc.code, str(exc)) if exc.code else str(exc)
        raise XmlSyntaxError(f"malformed XML at line {exc.lineno}, column {exc.offset}: {message}") from exc
    except LookupError as exc:  # an encoding Python does not know
        raise XmlSyntaxError(f"malformed XML: {exc}") from exc
    except RecursionError as exc:  # pragma: no cover - depth is bounded above
        raise XmlSyntaxError("the document is nested too deeply") from exc
    if not roots:
        raise XmlSyntaxError("the body has no root element")
    return roots[0]
