"""The engine's REST API: oVirt Engine API v4 compatible, for storage connections and their neighbours.

``create_app(engine)`` builds the FastAPI application: the routes under
``/ovirt-engine/api`` (XML by default, JSON on request, oVirt's element
names, status codes and fault bodies) and the SSO endpoints the official
oVirt SDK logs in and out with. The modules, one job each:

    app        create_app
    auth       SSO token and logout endpoints, bearer tokens, HTTP Basic, roles
    routing    the fault-mapping route class and the per-request toolbox
    routes/    one module per collection
    media      XML or JSON: negotiation, bounded bodies, answers and faults
    schema     what clients may send, checked element by element
    decode     checked bodies into the Engine's command arguments
    encode     entities into documents
    document   the document tree and its XML and JSON renderings
    xmlparse   a safe XML parser (no DTDs, no entities)
    port       the Engine methods the API uses, as a Protocol
"""

from __future__ import annotations

from .app import create_app
from .auth import EngineTokens, Tokens, TokenStore
from .port import EnginePort
from .routing import API_PREFIX
from .schema import BodyError, BodyTooLarge, IncompleteParameters

__all__ = [
    "API_PREFIX",
    "BodyError",
    "BodyTooLarge",
    "EnginePort",
    "IncompleteParameters",
    "EngineTokens",
    "TokenStore",
    "Tokens",
    "create_app",
]
