"""The part of the :class:`~orchestrator.state.base.StateStore` contract that is the same in
every backend: argument checks, encoding before the transaction, the fence, the journal entry
and serial bump of every write, and the lock's take / hold / release / break sequence.

A backend subclasses :class:`StoreSkeleton` and supplies only its storage primitives (a write
transaction, reading and writing rows), so a rule such as "a write by a holder whose lock was
broken is refused" is written once and holds for SQLite, PostgreSQL and memory alike.
"""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from orchestrator.errors import StateError
from orchestrator.state.codec import dump_json
from orchestrator.state.locking import (
    acquire_with_timeout,
    holder_is_dead,
    lock_broken_error,
    locked_error,
    new_lock,
    wrong_lock_error,
)
from orchestrator.state.models import Actor, Archived, JournalEntry, LockInfo, SendRecord, TemplateRecord, utc
from orchestrator.state.validation import check_action, check_key

__all__ = ["NO_LINEAGE_HINT", "StoreSkeleton", "no_lineage_error", "read_only_error"]

logger = logging.getLogger(__name__)

#: A write transaction of the backend: a connection, or the shared in-memory state.
Txn = TypeVar("Txn")

#: What to do about a state store that exists but holds no state. Never "just create one":
#: an emptied state would make the next plan offer every email already sent again.
NO_LINEAGE_HINT = (
    "restore the state from a backup; only if nothing was ever sent through this environment, "
    "start an empty state with `orchestrator state init`"
)


def no_lineage_error(where: str, what: str) -> StateError:
    """The refusal for a state store that exists but was emptied (or never finished)."""
    return StateError(
        f"{where} exists but holds no state ({what}): it may have been emptied or replaced; "
        "a new state here would forget every send recorded before, so it is not created "
        "implicitly",
        hint=NO_LINEAGE_HINT,
    )


def read_only_error(where: str, doing: str) -> StateError:
    """The refusal of a write through a store opened for a command that only reads."""
    return StateError(
        f"{where} was opened read-only (plan, validate, show and preview never write the state); "
        f"cannot {doing}",
        hint="run a command that records something, such as `orchestrator apply`",
    )


class StoreSkeleton(ABC, Generic[Txn]):
    """Shared behaviour of the state backends (see the module docstring)."""

    #: True when opening this store created a new, empty state (announced by the CLI).
    created: bool = False
    #: True when opened for a read-only command: every write and the lock are refused.
    read_only: bool = False
    #: With SQLite nothing but ``force_unlock`` frees a dead holder's lock, so waiting is futile.
    dead_holder_blocks: bool = False

    def __init__(self) -> None:
        self._held: LockInfo | None = None

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the state lives, for messages (never a secret)."""

    # -- primitives every backend supplies -----------------------------------------------

    @abstractmethod
    def _write_txn(self, doing: str) -> contextlib.AbstractContextManager[Txn]:
        """One write transaction (serialised with every other writer); rolled back on error."""

    @abstractmethod
    def _read_lock(self, txn: Txn) -> LockInfo | None:
        """The lock row, read inside ``txn``."""

    @abstractmethod
    def _upsert(self, txn: Txn, record: SendRecord, payload: str) -> None:
        """Insert or replace ``record``; ``payload`` is its payload, already encoded."""

    @abstractmethod
    def _serial(self, txn: Txn) -> int:
        """The current serial, read inside ``txn``."""

    @abstractmethod
    def _append(self, txn: Txn, entry: JournalEntry, detail: str) -> None:
        """Store journal ``entry`` (its ``detail`` given encoded) and set the serial to its seq."""

    @abstractmethod
    def _unresolved_before(self, txn: Txn, before: datetime) -> list[str]:
        """Keys of intent or unknown records whose time (scheduled, else created) is before ``before``."""

    @abstractmethod
    def _move_to_archive(self, txn: Txn, before: datetime, at: datetime) -> int:
        """Move the records that went out before ``before`` (sent, or scheduled for a time before
        it) into the archive, stamped ``at``; how many moved."""

    @abstractmethod
    def _insert_lock(self, txn: Txn, info: LockInfo) -> None:
        """Write the lock row for ``info`` (there is none when this is called)."""

    @abstractmethod
    def _delete_lock(self, txn: Txn, lock_id: str) -> bool:
        """Delete the lock row ``lock_id``; whether there was one."""

    @abstractmethod
    def _upsert_template(self, txn: Txn, record: TemplateRecord) -> None:
        """Insert or replace the owned template ``record`` (schema 3's table)."""

    def _refuse_if_read_only(self, doing: str) -> None:
        if self.read_only:
            raise read_only_error(self.location, doing)

    # -- writes --------------------------------------------------------------------------

    def put(
        self,
        record: SendRecord,
        *,
        action: str,
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        if not isinstance(record, SendRecord):
            raise TypeError(f"put() takes a SendRecord, not {type(record).__name__}")
        check_action(action)
        self._refuse_if_read_only(f"record {record.key}")
        payload = dump_json(record.payload, what="payload")
        return self._write(f"record {record.key}", record.key, action, detail, actor, (record, payload))

    def put_template(self, record: TemplateRecord, *, actor: Actor | None = None) -> int:
        """Record what an apply made of owned template ``record.name`` and journal it
        (``template``, keyed ``template:NAME``) atomically; the new serial."""
        if not isinstance(record, TemplateRecord):
            raise TypeError(f"put_template() takes a TemplateRecord, not {type(record).__name__}")
        self._refuse_if_read_only(f"record template {record.name}")
        detail = dump_json(
            {"template_id": record.template_id, "fingerprint": record.fingerprint}, what="detail"
        )
        with self._write_txn(f"record template {record.name}") as txn:
            self._check_fence(txn)
            self._upsert_template(txn, record)
            return self._journal(txn, f"template:{record.name}", "template", detail, actor or Actor.current())

    def append_journal(
        self,
        *,
        key: str | None,
        action: str,
        detail: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
    ) -> int:
        check_key(key)
        check_action(action)
        self._refuse_if_read_only("append to the journal")
        return self._write("append to the journal", key, action, detail, actor, None)

    def _write(
        self,
        doing: str,
        key: str | None,
        action: str,
        detail: Mapping[str, Any] | None,
        actor: Actor | None,
        record: tuple[SendRecord, str] | None,
    ) -> int:
        # Everything is encoded before the transaction opens, so nothing can fail half-way.
        encoded = dump_json(detail or {}, what="detail")
        who = actor or Actor.current()
        with self._write_txn(doing) as txn:
            self._check_fence(txn)
            if record is not None:
                self._upsert(txn, *record)
            return self._journal(txn, key, action, encoded, who)

    def archive(self, before: datetime, *, now: datetime, actor: Actor | None = None) -> Archived:
        before, now = utc(before, what="before"), utc(now, what="now")
        self._refuse_if_read_only("archive records")
        if before > now:
            raise StateError(
                f"cannot archive the sends before {before:%Y-%m-%d %H:%M} UTC: that is after now, and a send "
                "scheduled after now has not gone out yet",
                hint="give a date in the past with --before",
            )
        who = actor or Actor.current()
        with self._write_txn("archive records") as txn:
            self._check_fence(txn)
            unresolved = self._unresolved_before(txn, before)
            if unresolved:
                shown = ", ".join(unresolved[:5]) + (f" and {len(unresolved) - 5} more" if len(unresolved) > 5 else "")
                raise StateError(
                    f"cannot archive the sends before {before:%Y-%m-%d %H:%M} UTC: {len(unresolved)} of them "
                    f"may or may not have gone out ({shown}); nothing was archived",
                    hint="settle them first with `orchestrator state reconcile` or `orchestrator state resolve KEY`",
                )
            moved = self._move_to_archive(txn, before, now)
            if not moved:
                return Archived(0, self._serial(txn))
            detail = dump_json({"before": before.isoformat(), "records": moved}, what="detail")
            return Archived(moved, self._journal(txn, None, "archive", detail, who))

    def _journal(self, txn: Txn, key: str | None, action: str, detail: str, actor: Actor) -> int:
        """Append one journal entry whose seq is the new serial; return that serial."""
        serial = self._serial(txn) + 1
        entry = JournalEntry(seq=serial, at=datetime.now(UTC), key=key, action=action, detail={}, actor=actor)
        self._append(txn, entry, detail)
        return serial

    def _check_fence(self, txn: Txn) -> None:
        """While this store holds the lock, refuse to write if someone broke it."""
        held = self._held
        if held is not None:
            current = self._read_lock(txn)
            if current is None or current.lock_id != held.lock_id:
                raise lock_broken_error(held, current)

    # -- locking -------------------------------------------------------------------------

    def _try_lock(self, operation: str) -> LockInfo:
        """One attempt at the lock: the new lock, or :class:`StateLocked` naming the holder."""
        with self._write_txn("take the state lock") as txn:
            current = self._read_lock(txn)
            if current is not None:
                raise locked_error(current)
            info = new_lock(operation)
            self._insert_lock(txn, info)
            return info

    @contextlib.contextmanager
    def _lock_attempts(self) -> Iterator[Callable[[str], LockInfo]]:
        """How to attempt the lock while ``lock()`` waits; PostgreSQL adds a session of its own."""
        yield self._try_lock

    @contextlib.contextmanager
    def lock(self, operation: str, *, timeout: float = 0.0) -> Iterator[LockInfo]:
        self._refuse_if_read_only("take the state lock")
        with self._lock_attempts() as attempt:
            info = acquire_with_timeout(
                lambda: attempt(operation), timeout, give_up_if_holder_dead=self.dead_holder_blocks
            )
            self._held = info
            try:
                yield info
            except BaseException:
                self._held = None
                with contextlib.suppress(StateError):  # keep the original error; a row left
                    self._release(info)  # behind is reported (or taken over) by the next lock()
                raise
            self._held = None
            self._release(info)

    def _release(self, info: LockInfo) -> None:
        with self._write_txn("release the state lock") as txn:
            if not self._delete_lock(txn, info.lock_id):
                logger.warning("state lock %s was broken while this process held it", info.lock_id)

    def force_unlock(self, lock_id: str) -> None:
        self._refuse_if_read_only("break the state lock")
        with self._write_txn("break the state lock") as txn:
            current = self._read_lock(txn)
            if current is None or current.lock_id != lock_id:
                raise wrong_lock_error(lock_id, current)
            self._delete_lock(txn, lock_id)
            detail = {"lock": current.to_dict(), "holder_dead": holder_is_dead(current)}
            self._journal(txn, None, "unlock", dump_json(detail, what="detail"), Actor.current())
        self._after_force_unlock(lock_id)

    def _after_force_unlock(self, lock_id: str) -> None:
        """Anything more breaking a lock takes (PostgreSQL ends the holder's session)."""
