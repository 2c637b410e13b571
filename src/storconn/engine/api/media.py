"""XML or JSON: choosing the format, reading bounded bodies, answering documents and faults.

- Answers are XML unless ``Accept`` prefers ``application/json`` (oVirt's
  rule); the SDK sends ``Accept: application/xml`` and checks the answer's
  ``Content-Type``.
- Bodies are JSON when ``Content-Type`` says so, XML when it says XML or
  nothing (a body that starts with ``{`` without a type is read as JSON);
  any other type is refused (415).
- Bodies over ``max_body`` bytes are refused (413) before they are read
  whole, whether or not ``Content-Length`` was sent.
- A fault is ``<fault><reason>..</reason><detail>[..]</detail></fault>`` or
  ``{"reason": .., "detail": ..}``, with the status of the error; the
  engine's message key travels in the ``Storconn-Message-Key`` header so
  that tooling can match on it without parsing the text.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from storconn.engine.errors import EngineError

from . import encode
from .document import Document, to_json, to_xml
from .schema import BodyError, BodyTooLarge, Fields, Schema, read_body

XML_TYPE = "application/xml"
JSON_TYPE = "application/json"
MESSAGE_KEY_HEADER = "Storconn-Message-Key"
DEFAULT_MAX_BODY = 1024 * 1024


class UnsupportedMediaType(BodyError):
    status = 415
    reason = "Unsupported Media Type"

    def __init__(self, content_type: str) -> None:
        super().__init__(f"Bodies are application/xml or application/json, not {content_type!r}.",
                         key="UNSUPPORTED_MEDIA_TYPE")


def _media_types(header: str) -> list[tuple[str, float]]:
    result = []
    for index, part in enumerate(header.split(",")):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        quality = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        result.append((fields[0].lower(), quality - index * 1e-6))  # ties keep the client's order
    return result


def wants_json(request: Request) -> bool:
    """True when ``Accept`` prefers JSON over XML; XML otherwise (also for ``*/*`` and no header)."""
    ranked = sorted(_media_types(request.headers.get("accept", "")), key=lambda m: -m[1])
    for media_type, quality in ranked:
        if quality <= 0:
            continue
        if media_type in (JSON_TYPE, "text/json") or media_type.endswith("+json"):
            return True
        if media_type in (XML_TYPE, "text/xml", "*/*", "application/*") or media_type.endswith("+xml"):
            return False
    return False


def body_is_json(request: Request, data: bytes) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type:
        return data.lstrip()[:1] in (b"{", b"[")
    if content_type in (JSON_TYPE, "text/json") or content_type.endswith("+json"):
        return True
    if content_type in (XML_TYPE, "text/xml") or content_type.endswith("+xml"):
        return False
    raise UnsupportedMediaType(content_type)


async def read_raw(request: Request, max_body: int) -> bytes:
    """The whole body, refusing (413) one larger than ``max_body`` without buffering it whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_body:
        raise BodyTooLarge(max_body)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise BodyTooLarge(max_body)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_document(
    request: Request, schema: Schema, max_body: int, *, optional: bool = False
) -> Fields | None:
    """The body checked against ``schema``; with ``optional``, ``None`` for an empty body."""
    data = await read_raw(request, max_body)
    if optional and not data.strip():
        return None
    return read_body(data, schema, as_json=body_is_json(request, data))


def render(
    request: Request, document: Document, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    as_json = wants_json(request)
    body = to_json(document) if as_json else to_xml(document)
    return Response(body, status_code=status, headers=headers, media_type=JSON_TYPE if as_json else XML_TYPE)


def fault_response(request: Request, error: EngineError, *, headers: dict[str, str] | None = None) -> Response:
    all_headers = {MESSAGE_KEY_HEADER: error.key, **(headers or {})}
    return render(request, encode.fault(error.reason, error.detail), status=error.status, headers=all_headers)


def empty(status: int = 200) -> Response:
    """An answer without a body (a DELETE's), typed as XML like oVirt's."""
    return Response(b"", status_code=status, media_type=XML_TYPE)
