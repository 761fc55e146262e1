"""Datasets and their immutable versions, splits and committed stream messages.

The store keeps the metadata only; the Parquet parts and profile sketches live
in the blob store and are named here by their SHA-256. A new version is built
and numbered inside one write transaction that also locks the dataset, so two
writers appending at once get versions N and N+1 with the right parents, and the
stream message ids a version holds are recorded in that same transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy import exc as sa_exc

from modelyard.exceptions import (
    AlreadyExistsError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from modelyard.store.database import Database
from modelyard.store.dataset_rows import (
    DATASET_NAME_RE,
    JSON_COLUMNS,
    NewVersion,
    SplitRecord,
    VersionRecord,
    check_dataset_name,
    dumps,
    ranges,
    record_from_row,
    split_from_row,
    version_select,
)
from modelyard.store.migrate import ensure_schema
from modelyard.store.rows import now_ms
from modelyard.store.schema import (
    dataset_splits,
    dataset_stream_messages,
    dataset_versions,
    datasets,
)

__all__ = [
    "DATASET_NAME_RE",
    "DatasetStore",
    "NewVersion",
    "SplitRecord",
    "VersionRecord",
    "check_dataset_name",
]

_MAX_IDS_PER_QUERY = 500


class DatasetStore(Database):
    """The dataset tables of one metadata database.

    Args:
        url_or_engine: A SQLAlchemy URL or an engine made by :func:`make_engine`.
        migrate: Create the schema in an empty database (the default).
    """

    def __init__(self, url_or_engine: str | Engine, *, migrate: bool = True) -> None:
        super().__init__(url_or_engine)
        if migrate:
            with self._translate():
                ensure_schema(self.engine)

    # -- reading -------------------------------------------------------------
    def list_datasets(self) -> list[VersionRecord]:
        """The latest version of every dataset, by name."""
        latest = (
            select(dataset_versions.c.dataset_id, func.max(dataset_versions.c.version).label("v"))
            .group_by(dataset_versions.c.dataset_id)
            .subquery()
        )
        query = (
            version_select()
            .join(
                latest,
                (latest.c.dataset_id == dataset_versions.c.dataset_id)
                & (latest.c.v == dataset_versions.c.version),
            )
            .order_by(datasets.c.name)
        )
        with self._read() as conn:
            return [record_from_row(row) for row in conn.execute(query)]

    def list_versions(self, name: str) -> list[VersionRecord]:
        """Every version of ``name``, oldest first.

        Raises:
            NotFoundError: No dataset has this name (the message lists those that do).
        """
        with self._read() as conn:
            dataset_id = self._dataset_id(conn, name)
            query = (
                version_select()
                .where(dataset_versions.c.dataset_id == dataset_id)
                .order_by(dataset_versions.c.version)
            )
            return [record_from_row(row) for row in conn.execute(query)]

    def get_version(self, name: str, version: int | None = None) -> VersionRecord:
        """Version ``version`` of ``name`` (the latest when None).

        Raises:
            NotFoundError: No such dataset, or no such version (the message lists
                the versions that exist).
        """
        with self._read() as conn:
            dataset_id = self._dataset_id(conn, name)
            return self._version(conn, dataset_id, name, version)

    def find_by_hash(self, name: str, prefix: str) -> VersionRecord:
        """The newest version of ``name`` whose content hash starts with ``prefix``.

        Raises:
            ValidationError: The prefix is not 8 to 64 hex characters.
            NotFoundError: No version of ``name`` has such a hash.
        """
        if not re.fullmatch(r"[0-9a-f]{8,64}", prefix):
            raise ValidationError(
                f"content hash prefix {prefix[:80]!r} must be 8 to 64 lowercase hex characters"
            )
        with self._read() as conn:
            dataset_id = self._dataset_id(conn, name)
            row = conn.execute(
                version_select()
                .where(
                    (dataset_versions.c.dataset_id == dataset_id)
                    & dataset_versions.c.content_hash.startswith(prefix, autoescape=True)
                )
                .order_by(dataset_versions.c.version.desc())
                .limit(1)
            ).first()
        if row is None:
            raise NotFoundError(
                f"dataset {name!r} has no version whose content hash starts with {prefix!r}",
                name=name,
            )
        return record_from_row(row)

    def committed_ids(self, name: str, stream: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` (Redis Stream message ids) are already in ``name``."""
        found: set[str] = set()
        with self._read() as conn:
            dataset_id = conn.execute(
                select(datasets.c.dataset_id).where(datasets.c.name == name)
            ).scalar()
            if dataset_id is None:
                return found
            t = dataset_stream_messages
            for start in range(0, len(ids), _MAX_IDS_PER_QUERY):
                chunk = list(ids[start : start + _MAX_IDS_PER_QUERY])
                found.update(
                    conn.execute(
                        select(t.c.message_id).where(
                            (t.c.dataset_id == dataset_id)
                            & (t.c.stream == stream)
                            & t.c.message_id.in_(chunk)
                        )
                    ).scalars()
                )
        return found

    # -- writing -------------------------------------------------------------
    def commit_version(
        self,
        name: str,
        build: Callable[[VersionRecord | None], NewVersion | None],
        *,
        created_by: str | None,
        stream: str | None = None,
        message_ids: Sequence[str] = (),
    ) -> tuple[VersionRecord, bool]:
        """Number and insert a new version of ``name``, created if it does not exist.

        ``build`` runs inside the transaction, with the dataset locked, and gets
        the current latest version (None for a new dataset); it returns the new
        version, or None to keep the latest (identical content). Message ids are
        recorded in the same transaction.

        Returns:
            The version and whether it was created (False when ``build`` kept the latest).

        Raises:
            ConflictError: One of ``message_ids`` is already recorded (nothing is written).
        """
        check_dataset_name(name)
        with self._write() as conn:
            dataset_id = self._lock_or_create(conn, name, created_by)
            latest = self._latest(conn, dataset_id, name)
            new = build(latest)
            if new is None:
                if latest is None:
                    raise ValidationError(f"nothing to commit for the new dataset {name!r}")
                return latest, False
            number = 1 if latest is None else latest.version + 1
            row = {
                "dataset_id": dataset_id,
                "version": number,
                "content_hash": new.content_hash,
                "num_rows": new.num_rows,
                "num_bytes": new.num_bytes,
                "sketches": new.sketches,
                "bad_lines": new.bad_lines,
                "parent_version": new.parent_version,
                "created_at": now_ms(),
                "created_by": created_by,
                **{col: dumps(getattr(new, col)) for col in JSON_COLUMNS},
            }
            conn.execute(dataset_versions.insert().values(row))
            if message_ids:
                if stream is None:
                    raise ValidationError("message_ids need the stream they came from")
                self._record_messages(conn, dataset_id, stream, number, message_ids)
            return self._version(conn, dataset_id, name, number), True

    def put_split(
        self,
        name: str,
        version: int,
        split: str,
        *,
        spec: Mapping[str, Any],
        counts: Mapping[str, int],
        assignment: str,
    ) -> SplitRecord:
        """Record split ``split`` of ``name@version``.

        Raises:
            AlreadyExistsError: The version already has a split of that name with a
                different spec (splits are immutable, like the version).
        """
        with self._write() as conn:
            dataset_id = self._dataset_id(conn, name)
            self._version(conn, dataset_id, name, version)
            existing = self._split(conn, dataset_id, name, version, split)
            if existing is not None:
                if existing.spec == dict(spec):
                    return existing
                raise AlreadyExistsError(
                    f"{name}@{version} already has a split named {split!r} with another spec "
                    f"({json.dumps(existing.spec)}); splits are immutable, pick another name",
                    name=name,
                    version=version,
                    split=split,
                )
            conn.execute(
                dataset_splits.insert().values(
                    dataset_id=dataset_id,
                    version=version,
                    name=split,
                    spec=dumps(dict(spec)),
                    counts=dumps(dict(counts)),
                    assignment=assignment,
                    created_at=now_ms(),
                )
            )
            found = self._split(conn, dataset_id, name, version, split)
            assert found is not None  # inserted just above, same transaction
            return found

    def get_split(self, name: str, version: int, split: str) -> SplitRecord:
        """Split ``split`` of ``name@version``.

        Raises:
            NotFoundError: No such split (the message lists the version's splits).
        """
        with self._read() as conn:
            dataset_id = self._dataset_id(conn, name)
            found = self._split(conn, dataset_id, name, version, split)
            if found is not None:
                return found
            names = [s.split for s in self._splits(conn, dataset_id, name, version)]
        raise NotFoundError(
            f"{name}@{version} has no split named {split!r}; "
            + (f"its splits: {', '.join(names)}" if names else "it has no splits yet"),
            name=name,
            version=version,
            split=split,
        )

    def list_splits(self, name: str, version: int) -> list[SplitRecord]:
        """Every split of ``name@version``, by name."""
        with self._read() as conn:
            return self._splits(conn, self._dataset_id(conn, name), name, version)

    # -- helpers -------------------------------------------------------------
    def _dataset_id(self, conn: Connection, name: str) -> int:
        dataset_id = conn.execute(
            select(datasets.c.dataset_id).where(datasets.c.name == name)
        ).scalar()
        if dataset_id is not None:
            return int(dataset_id)
        names = list(conn.execute(select(datasets.c.name).order_by(datasets.c.name)).scalars())
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if names[20:] else "")
        raise NotFoundError(
            f"no dataset named {name[:200]!r}; "
            + (f"datasets: {shown}" if names else "there are no datasets yet")
            + " (create one with `modelyard data ingest SOURCE --name NAME`)",
            name=name[:200],
        )

    def _lock_or_create(self, conn: Connection, name: str, created_by: str | None) -> int:
        query = select(datasets.c.dataset_id).where(datasets.c.name == name)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        dataset_id = conn.execute(query).scalar()
        if dataset_id is not None:
            return int(dataset_id)
        stmt = (
            self._insert(datasets)
            .values(name=name, created_at=now_ms(), created_by=created_by)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        conn.execute(stmt)
        # Re-read with the lock: a concurrent creator may have won the insert.
        return int(conn.execute(query).scalar_one())

    def _latest(self, conn: Connection, dataset_id: int, name: str) -> VersionRecord | None:
        row = conn.execute(
            version_select()
            .where(dataset_versions.c.dataset_id == dataset_id)
            .order_by(dataset_versions.c.version.desc())
            .limit(1)
        ).first()
        return None if row is None else record_from_row(row)

    def _version(
        self, conn: Connection, dataset_id: int, name: str, version: int | None
    ) -> VersionRecord:
        if version is None:
            latest = self._latest(conn, dataset_id, name)
            if latest is not None:
                return latest
        else:
            row = conn.execute(
                version_select().where(
                    (dataset_versions.c.dataset_id == dataset_id)
                    & (dataset_versions.c.version == version)
                )
            ).first()
            if row is not None:
                return record_from_row(row)
        numbers = list(
            conn.execute(
                select(dataset_versions.c.version)
                .where(dataset_versions.c.dataset_id == dataset_id)
                .order_by(dataset_versions.c.version)
            ).scalars()
        )
        raise NotFoundError(
            f"dataset {name!r} has no version {version}; "
            + (f"versions: {ranges(numbers)}" if numbers else "it has no versions"),
            name=name,
            version=version,
        )

    def _record_messages(
        self, conn: Connection, dataset_id: int, stream: str, version: int, ids: Sequence[str]
    ) -> None:
        rows = [
            {"dataset_id": dataset_id, "stream": stream, "message_id": i, "version": version}
            for i in ids
        ]
        try:
            conn.execute(dataset_stream_messages.insert(), rows)
        except sa_exc.IntegrityError as exc:
            raise ConflictError(
                f"a message of stream {stream!r} is already in this dataset; nothing was committed",
                stream=stream,
            ) from exc

    def _split(
        self, conn: Connection, dataset_id: int, name: str, version: int, split: str
    ) -> SplitRecord | None:
        t = dataset_splits
        row = conn.execute(
            select(t).where(
                (t.c.dataset_id == dataset_id) & (t.c.version == version) & (t.c.name == split)
            )
        ).first()
        return None if row is None else split_from_row(name, row)

    def _splits(
        self, conn: Connection, dataset_id: int, name: str, version: int
    ) -> list[SplitRecord]:
        t = dataset_splits
        rows = conn.execute(
            select(t)
            .where((t.c.dataset_id == dataset_id) & (t.c.version == version))
            .order_by(t.c.name)
        )
        return [split_from_row(name, row) for row in rows]
