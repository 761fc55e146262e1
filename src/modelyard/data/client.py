"""The data client: ingest, append, get, validate, split and query versioned datasets."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.artifacts import BlobStore
from modelyard.config import Settings
from modelyard.data.dataset import Dataset, Split
from modelyard.data.dtypes import parse_dtypes, schema_from_dict, schema_to_dict
from modelyard.data.masking import Masker, MaskPolicy
from modelyard.data.profile import ProfileBuilder
from modelyard.data.refs import DatasetRef, parse_ref
from modelyard.data.report import ValidationReport
from modelyard.data.rules import Rules, evaluate, quarantine
from modelyard.data.sources import Source, SourceOptions, open_source
from modelyard.data.splits import SplitSpec, assign_split, split_counts
from modelyard.data.staging import Staged, content_hash, restage, stage_batches
from modelyard.exceptions import ConflictError, DataQualityError, NotFoundError, ValidationError
from modelyard.store import DatasetStore, NewVersion, VersionRecord, check_dataset_name

if TYPE_CHECKING:
    from modelyard.data.sink import DatasetSink

__all__ = ["DataClient"]

QUARANTINE_SUFFIX = ".quarantine"
RulesLike = Rules | Mapping[str, Any] | Sequence[Any] | str | Path
_DEFAULT_FRACTIONS = {"train": 0.7, "valid": 0.15, "test": 0.15}


class DataClient:
    """Datasets of one modelyard installation.

    Args:
        store: The dataset metadata store.
        blobs: Where Parquet parts and profile sketches are kept.
        user: Recorded as the author of new versions.
        mask_key: Secret for ``hmac`` masking (None: ``hmac`` policies are refused).
    """

    def __init__(
        self,
        store: DatasetStore,
        blobs: BlobStore,
        *,
        user: str | None = None,
        mask_key: bytes | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._blobs = blobs
        self._user = user
        self._mask_key = mask_key
        self._cache: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> DataClient:
        """A client for the database and artifact store the settings name."""
        return cls(
            DatasetStore(settings.db_url),
            BlobStore(settings.artifacts_url, settings.master_key),
            user=settings.user,
            mask_key=settings.mask_key,
            settings=settings,
        )

    def close(self) -> None:
        """Release the database connections and remove downloaded parts."""
        self._store.close()
        if self._cache is not None:
            shutil.rmtree(self._cache, ignore_errors=True)
            self._cache = None

    def __enter__(self) -> DataClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------
    def ingest(
        self,
        source: Any,
        name: str,
        *,
        format: str | None = None,
        dtypes: Mapping[str, Any] | str | None = None,
        mask: Mapping[str, str | MaskPolicy] | None = None,
        rules: RulesLike | None = None,
        on_bad_lines: str = "error",
        query: str | None = None,
        delimiter: str | None = None,
        on_rows: Callable[[int], None] | None = None,
    ) -> Dataset:
        """Read ``source`` into a new version of dataset ``name``.

        Identical content to the latest version is not stored again: the latest
        version is returned. A failed ingest (bad rows, failed ``error`` rules,
        masking refused) leaves no version and no half-written state.

        Args:
            source: File path or fsspec URL (CSV, Parquet, JSON lines), a database
                URL with ``query``, a pandas DataFrame or an Arrow table.
            name: The dataset (created if new).
            format: ``csv``, ``parquet`` or ``jsonl`` when the suffix does not tell.
            dtypes: Column types overriding inference (``{"age": "int64"}`` or
                ``"age=int64,plan=category"``).
            mask: PII policies per column: ``hmac``, ``redact``, ``drop``,
                ``generalize:prefix=3``, ``generalize:month``...
            rules: Validation rules (a :class:`Rules`, a YAML path or text, or a dict).
            on_bad_lines: ``error`` or ``skip`` (the skipped count is recorded).
            query: The SQL, when ``source`` is a database URL.
            delimiter: CSV delimiter.
            on_rows: Called with each batch's row count (progress bars).

        Raises:
            ValidationError: Bad input (the message says which and how to fix it).
            DataQualityError: An ``on_fail: error`` rule failed (``.report`` has all).
            ConfigError: An ``hmac`` policy and no mask key configured.
        """
        options = _options(format, dtypes, on_bad_lines, query, delimiter)
        src = open_source(source, options)
        return self._write(name, src, self._masker(mask), _rules(rules), on_rows=on_rows)

    def append(
        self,
        name: str,
        source: Any,
        *,
        format: str | None = None,
        dtypes: Mapping[str, Any] | str | None = None,
        rules: RulesLike | None = None,
        on_bad_lines: str = "error",
        query: str | None = None,
        stream: str | None = None,
        message_ids: Sequence[str] = (),
        on_rows: Callable[[int], None] | None = None,
    ) -> Dataset:
        """A new version of ``name``: the latest version's rows plus those of ``source``.

        The new rows are masked with the latest version's policies and cast to
        its schema; existing parts are shared, not copied. A dataset that does
        not exist yet is created (as :meth:`ingest` would).

        Args:
            stream: The Redis stream ``message_ids`` came from; the ids are
                recorded with the version so a redelivered message is never added twice.

        Raises:
            ValidationError: The new rows do not fit the schema (extra or mistyped columns).
            ConflictError: The dataset's schema changed while appending (retry).
        """
        try:
            parent: VersionRecord | None = self._store.get_version(name)
        except NotFoundError:
            parent = None
        src = open_source(source, _options(format, dtypes, on_bad_lines, query, None))
        masker = self._masker(parent.masking) if parent is not None else None
        return self._write(
            name,
            src,
            masker,
            _rules(rules),
            parent=parent,
            stream=stream,
            ids=message_ids,
            on_rows=on_rows,
        )

    def _write(
        self,
        name: str,
        src: Source,
        masker: Masker | None,
        rules: Rules | None,
        *,
        parent: VersionRecord | None = None,
        stream: str | None = None,
        ids: Sequence[str] = (),
        on_rows: Callable[[int], None] | None = None,
    ) -> Dataset:
        """Stage, validate and commit: the one path every new version takes."""
        with self._workspace() as tmp:
            schema = schema_from_dict(parent.schema) if parent is not None else None
            batches = src.batches()
            if schema is not None:
                batches = _strict(batches, schema, masker, src.location)
            staged = stage_batches(
                batches,
                tmp / "part.parquet",
                masker=masker,
                schema=schema,
                where=src.location,
                on_rows=on_rows,
            )
            earlier = self._part_files(parent.parts) if parent is not None else []
            checked = self._validate_staged(name, staged, rules, earlier, src, tmp)
            good, report, bad = checked
            if good is None:  # every row failed a quarantine rule
                assert bad is not None
                assert report is not None
                self._commit_quarantine(name, bad, staged.schema, src, report)
                raise DataQualityError(
                    f"every row of {src.location} failed a quarantine rule; they were written "
                    f"to {name}{QUARANTINE_SUFFIX} and no version of {name!r} was made",
                    report=report,
                    name=name,
                )
            dataset = self._commit(
                name, good, src, masker, report, parent=parent, stream=stream, ids=ids
            )
            if bad is not None:
                assert report is not None
                self._commit_quarantine(name, bad, staged.schema, src, report)
            return dataset

    def _validate_staged(
        self,
        name: str,
        staged: Staged,
        rules: Rules | None,
        earlier_files: list[Path],
        src: Source,
        tmp: Path,
    ) -> tuple[Staged | None, ValidationReport | None, Path | None]:
        """Run the rules: raise on ``error`` failures, split off ``quarantine`` failures.

        Returns:
            The rows to commit (None when every row was quarantined), the report,
            and the Parquet file of quarantined rows (None when there are none).
        """
        if rules is None:
            return staged, None, None
        rules.check_columns(staged.schema)
        files = [*earlier_files, staged.path]
        total = staged.num_rows + sum(pq.ParquetFile(f).metadata.num_rows for f in earlier_files)
        report = evaluate(rules, files, schema=staged.schema, num_rows=total)
        if report.failed_with("error"):
            raise DataQualityError(
                f"{src.location} failed validation, so no version of {name!r} was written:\n"
                + report.summary(),
                report=report,
                name=name,
            )
        if not report.failed_with("quarantine"):
            return staged, report, None
        good, bad = tmp / "good.parquet", tmp / "bad.parquet"
        good_rows, bad_rows = quarantine(rules, [staged.path], out_good=good, out_bad=bad)
        kept = restage(good, tmp / "kept.parquet", staged.schema) if good_rows else None
        return kept, report, bad if bad_rows else None

    def _commit_quarantine(
        self, name: str, path: Path, schema: pa.Schema, src: Source, report: ValidationReport
    ) -> None:
        staged = restage(path, path.with_name("quarantine.parquet"), schema)
        source = {**src.describe(), "quarantined_from": name}
        self._commit(
            name + QUARANTINE_SUFFIX, staged, src, None, report, parent=None, source=source
        )

    def _commit(
        self,
        name: str,
        staged: Staged,
        src: Source,
        masker: Masker | None,
        report: ValidationReport | None,
        *,
        parent: VersionRecord | None,
        stream: str | None = None,
        ids: Sequence[str] = (),
        source: dict[str, Any] | None = None,
    ) -> Dataset:
        part = self._blobs.put_file(staged.path)
        part_doc = {"sha256": part.sha256, "rows": staged.num_rows, "bytes": part.size}
        schema_doc = schema_to_dict(staged.schema)

        def build(latest: VersionRecord | None) -> NewVersion | None:
            if parent is not None:  # an append: the new part goes after the latest's parts
                if latest is None or latest.schema["fields"] != parent.schema["fields"]:
                    raise ConflictError(
                        f"dataset {name!r} changed schema while rows were being appended; "
                        "append again",
                        name=name,
                    )
                parts = [*latest.parts, part_doc]
                builder = ProfileBuilder.from_bytes(self._blobs.get_bytes(latest.sketches or ""))
                builder.merge(staged.profile)
            else:
                parts = [part_doc]
                builder = staged.profile
            digest = content_hash(p["sha256"] for p in parts)
            if parent is None and latest is not None and latest.content_hash == digest:
                return None  # identical to the latest: keep it
            sketches = self._blobs.put_bytes(builder.to_bytes())
            return NewVersion(
                content_hash=digest,
                num_rows=sum(int(p["rows"]) for p in parts),
                num_bytes=sum(int(p["bytes"]) for p in parts),
                schema=schema_doc,
                parts=parts,
                profile=builder.result().to_dict(),
                sketches=sketches.sha256,
                source=source or src.describe(),
                masking=masker.describe() if masker is not None else {},
                validation=report.to_dict() if report is not None else None,
                bad_lines=src.bad_lines,
                parent_version=latest.version if latest is not None else None,
            )

        record, _ = self._store.commit_version(
            name, build, created_by=self._user, stream=stream, message_ids=ids
        )
        return Dataset(record, self)

    # -- reading ---------------------------------------------------------------
    def get(self, ref: str | DatasetRef) -> Dataset:
        """A version by reference: ``churn`` (latest), ``churn@3``, ``churn@<hash prefix>``.

        Raises:
            NotFoundError: No such dataset or version (the message lists what exists).
        """
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        if parsed.hash_prefix is not None:
            return Dataset(self._store.find_by_hash(parsed.name, parsed.hash_prefix), self)
        return Dataset(self._store.get_version(parsed.name, parsed.version), self)

    def list_datasets(self) -> list[Dataset]:
        """The latest version of every dataset."""
        return [Dataset(r, self) for r in self._store.list_datasets()]

    def versions(self, name: str) -> list[Dataset]:
        """Every version of ``name``, oldest first."""
        return [Dataset(r, self) for r in self._store.list_versions(name)]

    def validate(self, ref: str, rules: RulesLike) -> ValidationReport:
        """Run ``rules`` over a stored version and return the report (nothing is changed)."""
        dataset = self.get(ref)
        parsed = _rules(rules)
        assert parsed is not None
        parsed.check_columns(dataset.schema)
        return evaluate(parsed, dataset.files(), schema=dataset.schema, num_rows=dataset.num_rows)

    def sink(self, name: str) -> DatasetSink:
        """A stream sink appending micro-batches to ``name`` (see :class:`StreamConsumer`)."""
        from modelyard.data.sink import DatasetSink

        return DatasetSink(self, check_dataset_name(name))

    def query(self, sql: str) -> pa.Table:
        """Run ``sql`` in DuckDB, with ``name@version`` (and bare dataset names) as tables."""
        from modelyard.data.queries import run_query

        return run_query(sql, self)

    def _part_files(self, parts: Sequence[Mapping[str, Any]]) -> list[Path]:
        files = []
        for part in parts:
            sha = str(part["sha256"])
            path = self._blobs.local_path(sha)
            if path is None:
                if self._cache is None:
                    self._cache = Path(tempfile.mkdtemp(prefix="modelyard-parts-"))
                path = self._cache / f"{sha}.parquet"
                if not path.exists():
                    self._blobs.download(sha, path)
            files.append(path)
        return files

    # -- splits ----------------------------------------------------------------
    def _make_split(
        self,
        dataset: Dataset,
        name: str,
        *,
        kind: str,
        fractions: dict[str, float] | None,
        seed: int,
        by: str | None,
        time_column: str | None,
    ) -> Split:
        spec = SplitSpec.from_dict(
            {
                "kind": kind,
                "fractions": fractions or dict(_DEFAULT_FRACTIONS),
                "seed": seed,
                "by": by,
                "time_column": time_column,
            }
        )
        needed = [c for c in (by, time_column) if c is not None]
        if needed:
            table = dataset.to_arrow(needed)
        else:
            table = pa.table({"_row": pa.nulls(dataset.num_rows, pa.int8())})
        assignment = assign_split(spec, table)
        buffer = io.BytesIO()
        pq.write_table(pa.table({"part": pa.array(assignment, pa.int8())}), buffer)
        blob = self._blobs.put_bytes(buffer.getvalue())
        record = self._store.put_split(
            dataset.name,
            dataset.version,
            name,
            spec=spec.to_dict(),
            counts=split_counts(spec, assignment),
            assignment=blob.sha256,
        )
        return Split(record, dataset)

    # -- helpers ---------------------------------------------------------------
    def _masker(self, mask: Mapping[str, str | MaskPolicy] | None) -> Masker | None:
        if not mask:
            return None
        return Masker(mask, key=self._mask_key)

    @contextlib.contextmanager
    def _workspace(self) -> Any:
        folder = Path(tempfile.mkdtemp(prefix="modelyard-ingest-"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _options(
    format: str | None,
    dtypes: Mapping[str, Any] | str | None,
    on_bad_lines: str,
    query: str | None,
    delimiter: str | None,
) -> SourceOptions:
    return SourceOptions(  # open_source checks the values
        format=format,
        dtypes=parse_dtypes(dtypes) or None,
        on_bad_lines=on_bad_lines,  # type: ignore[arg-type]
        query=query,
        delimiter=delimiter,
    )


def _rules(rules: RulesLike | None) -> Rules | None:
    if rules is None or isinstance(rules, Rules):
        return rules
    if isinstance(rules, str | Path):
        return Rules.from_yaml(rules)
    return Rules.from_dict(rules)


def _strict(batches: Any, schema: pa.Schema, masker: Masker | None, where: str) -> Any:
    """Refuse appended rows with columns the dataset does not have (not drop them silently)."""
    known = set(schema.names)
    first = True
    for batch in batches:
        if first:
            names = masker.output_schema(batch.schema).names if masker else batch.schema.names
            extra = [n for n in names if n not in known]
            if extra:
                raise ValidationError(
                    f"{where} has column(s) {', '.join(map(repr, extra))} that the dataset "
                    f"does not have; its columns: {', '.join(schema.names)}",
                    columns=extra,
                )
            first = False
        yield batch
