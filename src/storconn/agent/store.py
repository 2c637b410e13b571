"""Durable state of the agent: references and ownership records, in SQLite.

WAL with ``synchronous=FULL``: a commit is on disk before it returns, so an
acknowledged acquire survives SIGKILL and power loss. ``secure_delete``
overwrites released rows, which may hold CHAP passwords; the database files
are created 0600 for the same reason.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from storconn.connection import ErrorCode, StorconnError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS refs (
    id     TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    info   TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owned (
    target TEXT PRIMARY KEY,
    info   TEXT NOT NULL,
    path   TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attachments (
    connection_id TEXT PRIMARY KEY,
    volume_id     TEXT NOT NULL,
    state         TEXT NOT NULL,
    request       TEXT NOT NULL,
    ref_ids       TEXT NOT NULL,
    device        TEXT,
    error         TEXT
) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class StoredRef:
    id: str
    target: str
    info_json: str


@dataclass(frozen=True, slots=True)
class StoredOwnership:
    """The agent made this target: enough to find its own mount again, and nobody else's.

    ``mount_id`` is None between the claim and the mount (and for iSCSI); a
    record whose ``boot_id`` is not this boot's names a mount that no longer
    exists, and one without a ``boot_id`` was written before these fields.
    """

    target: str
    info_json: str
    path: str | None
    mount_id: int | None = None
    source: str | None = None
    fstype: str | None = None
    boot_id: str | None = None


# Columns added to ``owned`` after its first release, added in place to old
# databases on open (SQLite's ADD COLUMN does not rewrite the table).
_OWNED_COLUMNS = {"mount_id": "TEXT", "source": "TEXT", "fstype": "TEXT", "boot_id": "TEXT"}


def _migrate_ownership(db: sqlite3.Connection) -> None:
    have = {row[1] for row in db.execute("PRAGMA table_info(owned)")}
    for name, kind in _OWNED_COLUMNS.items():
        if name not in have:
            db.execute(f"ALTER TABLE owned ADD COLUMN {name} {kind}")


def _ownership_row(r: StoredOwnership) -> tuple[str | None, ...]:
    # The mount id is kept as text: the write queue carries text rows only.
    mount_id = None if r.mount_id is None else str(r.mount_id)
    return (r.target, r.info_json, r.path, mount_id, r.source, r.fstype, r.boot_id)


def _ownership_of(row: tuple[str | None, ...]) -> StoredOwnership:
    target, info_json, path, mount_id, source, fstype, boot_id = row
    assert target is not None and info_json is not None
    return StoredOwnership(
        target, info_json, path,
        mount_id=int(mount_id) if mount_id is not None and str(mount_id).isdigit() else None,
        source=source, fstype=fstype, boot_id=boot_id,
    )


Statement = tuple[str, Sequence[tuple[str | None, ...]]]
"""One SQL statement and the rows ``executemany`` runs it with."""


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    """One volume attachment (``Volumes.attach``), recorded before each of its steps.

    ``request`` is the canonical JSON of what the client asked (conn_info
    with its secrets, mode, device type), kept to answer a repeated attach
    and to make the device again after a restart; like a reference's info
    it never leaves the store. ``device`` and ``error`` are JSON or None.
    The table was added after the first release: ``CREATE TABLE IF NOT
    EXISTS`` adds it to an older database on open.
    """

    connection_id: str
    volume_id: str
    state: str  # attaching, attached, detaching
    request: str
    ref_ids: str
    device: str | None = None
    error: str | None = None


class StoreError(StorconnError):
    """The database refused a write; nothing of that write was kept.

    ``row_specific`` says the fault lies in the values written (a duplicate
    key, text sqlite cannot encode), so the same write without the bad row
    may succeed; otherwise the database itself failed (locked, full, I/O)
    and retrying row by row would only fail again, slowly.
    """

    def __init__(self, message: str, *, row_specific: bool = False) -> None:
        super().__init__(message, code=ErrorCode.GENERAL)
        self.row_specific = row_specific


@dataclass(slots=True)
class _Write:
    statements: Sequence[Statement]  # one transaction: all of them or none
    done: bool = False  # committed or failed: its writer may go
    committed: bool = False
    error: StoreError | None = None


def _store_error(exc: BaseException) -> StoreError:
    """The StoreError for a write that raised ``exc``, whatever it was.

    The text says what went wrong without quoting the values written, which
    may hold secrets: sqlite's own messages name columns, not values, and a
    UnicodeEncodeError is reduced to its reason.
    """
    if isinstance(exc, sqlite3.Error):
        reason = str(exc)
    elif isinstance(exc, UnicodeError):
        reason = f"a value is not valid Unicode text ({getattr(exc, 'reason', type(exc).__name__)})"
    else:
        reason = type(exc).__name__
    # Locked, full, corrupt or failing I/O (OperationalError and the like)
    # is the database's fault; the others are the values'.
    row_specific = not isinstance(exc, sqlite3.Error) or isinstance(
        exc, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.ProgrammingError, sqlite3.InterfaceError)
    )
    error = StoreError(f"the reference store refused the write: {reason}", row_specific=row_specific)
    error.__cause__ = exc
    return error


class Store:
    """One SQLite database file. Every public write is durable when it returns; all are thread-safe.

    Group commit: writers that arrive while a commit is in progress queue up,
    and the next one to get the database commits them all in one transaction,
    with one fsync. Sixteen mounts starting at once thus pay for one or two
    fsyncs of their ownership records, not sixteen in a row.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        old_umask = os.umask(0o077)  # the -wal and -shm files inherit it too
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(_SCHEMA)
            _migrate_ownership(self._db)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        self._lock = threading.Lock()  # the database connection
        self._queue_lock = threading.Lock()  # the writes waiting for it
        self._queue: list[_Write] = []

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def load_refs(self) -> list[StoredRef]:
        """Every stored reference. A row that is not valid UTF-8 text does not fail the load.

        sqlite3 decodes text itself and raises for the whole query on one bad
        row, which would keep the agent from starting; then the rows are read
        again as bytes and decoded here. A bad info is decoded with
        replacement characters (it then fails validation and loads in error);
        a bad id cannot be addressed by any client, so its row is left in the
        store, unloaded, and logged.
        """
        with self._lock:
            try:
                rows = self._db.execute("SELECT id, target, info FROM refs").fetchall()
            except sqlite3.OperationalError as exc:
                log.error("the reference store holds text that is not UTF-8 (%s); reading it row by row", exc)
                return self._load_refs_as_bytes_locked()
        return [StoredRef(*row) for row in rows]

    def _load_refs_as_bytes_locked(self) -> list[StoredRef]:
        rows = self._db.execute(
            "SELECT CAST(id AS BLOB), CAST(target AS BLOB), CAST(info AS BLOB) FROM refs"
        ).fetchall()
        refs: list[StoredRef] = []
        for raw_id, raw_target, raw_info in rows:
            try:
                ref_id = bytes(raw_id).decode()
            except UnicodeDecodeError:
                log.error("stored reference with an id that is not UTF-8 text skipped: %r", bytes(raw_id)[:80])
                continue
            target = bytes(raw_target or b"").decode(errors="replace")
            refs.append(StoredRef(ref_id, target, bytes(raw_info or b"").decode(errors="replace")))
        return refs

    def load_ownership(self) -> list[StoredOwnership]:
        """Every ownership record. Text that is not UTF-8 is read with replacement characters.

        Such a record then fails to parse and is skipped with a log line
        rather than keeping the agent from starting, as in ``load_refs``.
        """
        query = "SELECT target, info, path, mount_id, source, fstype, boot_id FROM owned"
        with self._lock:
            try:
                rows = self._db.execute(query).fetchall()
            except sqlite3.OperationalError as exc:
                log.error("the ownership records hold text that is not UTF-8 (%s); reading them leniently", exc)
                self._db.text_factory = _lenient_text
                try:
                    rows = self._db.execute(query).fetchall()
                finally:
                    self._db.text_factory = str
        return [_ownership_of(row) for row in rows]

    def add_refs(self, refs: Iterable[tuple[str, str, str]], *, also: Sequence[Statement] = ()) -> None:
        """Insert every (id, target, info_json) in one transaction, durable when this returns.

        ``also``: statements that must commit with them or not at all (an
        attachment's record), so that a caller pays one commit, not two.
        """
        rows: list[tuple[str | None, ...]] = list(refs)
        statements = [*(("INSERT INTO refs (id, target, info) VALUES (?, ?, ?)", rows),) * bool(rows), *also]
        if statements:
            self._write_all(statements)

    def remove_refs(self, ids: Iterable[str], *, also: Sequence[Statement] = ()) -> None:
        """Delete the references, with ``also`` in the same transaction."""
        rows: list[tuple[str | None, ...]] = [(ref_id,) for ref_id in ids]
        statements = [*(("DELETE FROM refs WHERE id = ?", rows),) * bool(rows), *also]
        if statements:
            self._write_all(statements)

    def write(self, statements: Sequence[Statement]) -> None:
        """Commit ``statements`` in one transaction (the ``*_statement`` helpers make them)."""
        if statements:
            self._write_all(statements)

    def own(self, ownership: StoredOwnership) -> None:
        """Record, durably, that the agent is about to create this target."""
        self.own_many([ownership])

    def own_many(self, records: Iterable[StoredOwnership]) -> None:
        self._write(
            "INSERT OR REPLACE INTO owned (target, info, path, mount_id, source, fstype, boot_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [_ownership_row(r) for r in records],
        )

    def disown(self, target: str) -> None:
        self._write("DELETE FROM owned WHERE target = ?", [(target,)])

    def load_attachments(self) -> list[StoredAttachment]:
        query = "SELECT connection_id, volume_id, state, request, ref_ids, device, error FROM attachments"
        with self._lock:
            self._db.text_factory = _lenient_text  # a bad row must not keep the agent from starting
            try:
                rows = self._db.execute(query).fetchall()
            finally:
                self._db.text_factory = str
        return [StoredAttachment(*row) for row in rows]

    def put_attachment(self, record: StoredAttachment) -> None:
        """Insert or replace the record, durably."""
        self._write_all([put_attachment_statement(record)])

    def delete_attachment(self, connection_id: str) -> None:
        self._write_all([delete_attachment_statement(connection_id)])

    def _write(self, sql: str, rows: Sequence[tuple[str | None, ...]]) -> None:
        self._write_all([(sql, rows)])

    def _write_all(self, statements: Sequence[Statement]) -> None:
        mine = _Write(statements)
        with self._queue_lock:
            self._queue.append(mine)
        with self._lock:
            if not mine.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit_locked(batch)
        if mine.error is not None:
            raise mine.error

    def _commit_locked(self, batch: list[_Write]) -> None:
        """Commit ``batch``; every write of it ends ``done``, committed or with its error.

        Any exception counts, not only sqlite3.Error: a value sqlite cannot
        take (a lone surrogate raises UnicodeEncodeError, a huge integer
        OverflowError) or a MemoryError must fail its own write and no other,
        and must never leave a writer of the group waiting for an answer.
        """
        try:
            try:
                self._transaction_locked(batch)
            except Exception:
                # One bad write must not fail the others: commit each on its
                # own so that the error lands on the write that caused it.
                for write in batch:
                    try:
                        self._transaction_locked([write])
                    except Exception as exc:
                        if not isinstance(exc, sqlite3.Error):
                            log.error("a store write failed with %s", type(exc).__name__)
                        write.error = _store_error(exc)
                    else:
                        write.committed = True
            else:
                for write in batch:
                    write.committed = True
        finally:
            # Even a BaseException escaping above (KeyboardInterrupt in a
            # test) must not leave a writer believing its write was kept.
            for write in batch:
                if not write.committed and write.error is None:
                    write.error = StoreError("the reference store refused the write: interrupted")
                write.done = True

    def _transaction_locked(self, batch: list[_Write]) -> None:
        if self._db.in_transaction:
            # Left over by a rollback that itself failed: writes must not
            # join a transaction that is not theirs.
            self._rollback_locked()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for write in batch:
                for sql, rows in write.statements:
                    self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback_locked()
            raise

    def _rollback_locked(self) -> None:
        if not self._db.in_transaction:
            return
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            # The next transaction tries again; this one's error is the story.
            log.error("rollback of the reference store failed: %s", exc)


def put_attachment_statement(record: StoredAttachment) -> Statement:
    return (
        "INSERT OR REPLACE INTO attachments (connection_id, volume_id, state, request, ref_ids, device, error)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(record.connection_id, record.volume_id, record.state, record.request, record.ref_ids,
          record.device, record.error)],
    )


def delete_attachment_statement(connection_id: str) -> Statement:
    return "DELETE FROM attachments WHERE connection_id = ?", [(connection_id,)]


def _lenient_text(raw: bytes) -> str:
    return raw.decode(errors="replace")
