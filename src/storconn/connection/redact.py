"""Redaction: keeping secrets out of logs, messages and command lines."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

__all__ = ["SECRET_MASK", "redact_text"]

SECRET_MASK = "********"


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret with ``SECRET_MASK``.

    The percent-encoded spellings (as in a URI, upper- or lower-case hex) are
    replaced too. Longer forms go first, so a secret that contains another
    one is masked whole.
    """
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        forms.add(secret)
        encoded = quote(secret, safe="", errors="surrogatepass")
        forms.add(encoded)
        forms.add(_lower_hex(encoded))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, SECRET_MASK)
    return text


def _lower_hex(encoded: str) -> str:
    parts = encoded.split("%")
    return parts[0] + "".join("%" + part[:2].lower() + part[2:] for part in parts[1:])
