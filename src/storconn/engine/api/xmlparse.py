"""A small, safe XML parser: a request body into plain nodes.

It drives expat directly so that a document type declaration is refused
outright: no internal or external entities, hence no entity expansion bombs
and no reads of local files or URLs. Namespaces are not processed: a
prefixed name (``ns:address``) is just a name no schema knows. Nesting is
bounded, and the nodes are built without recursion. Only the encodings
expat decodes itself are accepted (UTF-8, UTF-16, ISO-8859-1, US-ASCII): for
any other name pyexpat asks Python's codecs, which answer with errors of
their own (UTF-7 and other multi-byte codecs: ValueError; ``idna``:
UnicodeError) or decode through text transforms (``unicode_escape``).
"""

from __future__ import annotations

import re
import xml.parsers.expat as expat
from dataclasses import dataclass, field

MAX_DEPTH = 32

# The encodings expat knows without help, by their lower-cased names.
ENCODINGS = frozenset(
    {"utf-8", "utf8", "utf-16", "utf16", "iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"}
)
# The XML declaration's encoding, read from the raw bytes: a declaration
# spelled in UTF-16 does not match and is left to expat, which knows UTF-16.
_DECLARED = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*?\sencoding\s*=\s*[\"']([^\"']*)[\"']")


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
    declared = _DECLARED.match(data[:512])
    if declared is not None:
        name = declared.group(1).decode("ascii", "replace")
        if name.lower() not in ENCODINGS:
            shown = name if len(name) <= 40 else name[:40] + "..."
            raise XmlSyntaxError(
                f"the encoding {shown!r} is not supported; use UTF-8 (or UTF-16, ISO-8859-1, US-ASCII)"
            )
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
    except XmlSyntaxError:
        raise
    except (LookupError, ValueError) as exc:  # a codec's own error (UnicodeError is a ValueError)
        raise XmlSyntaxError(f"malformed XML: {exc}") from exc
    except RecursionError as exc:  # pragma: no cover - depth is bounded above
        raise XmlSyntaxError("the document is nested too deeply") from exc
    if not roots:
        raise XmlSyntaxError("the body has no root element")
    return roots[0]
