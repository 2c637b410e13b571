"""Path normalization: the one spelling of a path used in identities."""

from __future__ import annotations

__all__ = ["normalize_path", "path_problem"]


def normalize_path(path: str) -> str:
    """Collapse ``//`` and ``/./``, drop a trailing ``/``; refuse ``..``.

    ``"/"`` stays ``"/"``; a relative path stays relative (``"./a/"`` gives
    ``"a"`` and ``"."`` gives ``"."``). Raises ``ValueError`` for an empty path
    or one with a ``..`` component: resolving ``..`` needs the file system
    (symlinks), and letting it through would let a path escape its parent.
    """
    if len(path) > 1 and path[0] == "/" and path[-1] != "/" and "//" not in path and "/." not in path:
        # Already normal (no empty, "." or ".." part): the common case, and
        # identities are computed on every acquire.
        return path
    if not path:
        raise ValueError("path is empty")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValueError("path may not contain '..'")
    absolute = path.startswith("/")
    joined = "/".join(parts)
    if absolute:
        return "/" + joined
    return joined or "."


def path_problem(path: str, *, absolute: bool) -> str | None:
    """Why ``path`` is not acceptable as a parameter, or None when it is."""
    if not path:
        return "must not be empty"
    if absolute and not path.startswith("/"):
        return "must be an absolute path"
    if ".." in path.split("/"):
        return "may not contain '..'"
    return None
