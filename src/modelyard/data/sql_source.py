"""A SQL query through a SQLAlchemy URL, streamed in chunks with a server-side cursor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from modelyard.data.sources import Source, SourceOptions, cast_batch, check_dtype_columns
from modelyard.exceptions import StoreError, ValidationError

__all__ = ["SqlSource"]


class SqlSource(Source):
    """Rows of ``options.query`` run against the database at ``url``.

    The schema is fixed by the first chunk (with ``dtypes`` overrides; a column
    that is all NULL there becomes string), and later chunks are cast to it.
    """

    def __init__(self, url: str, options: SourceOptions) -> None:
        try:
            parsed = make_url(url)
        except sa_exc.ArgumentError as exc:
            raise ValidationError(f"not a database URL: {exc}") from None
        super().__init__("sql", parsed.render_as_string(hide_password=True), options)
        self._url = parsed

    def batches(self) -> Iterator[pa.RecordBatch]:
        engine = create_engine(self._url)
        try:
            try:
                conn = engine.connect()
            except sa_exc.DBAPIError as exc:
                raise StoreError(
                    f"cannot query {self.location}: {str(exc.orig).strip()}; check that the "
                    "database is reachable and the credentials",
                    url=self.location,
                ) from None
            with conn:
                try:
                    yield from self._stream(conn)
                except sa_exc.DBAPIError as exc:
                    raise ValidationError(
                        f"the query failed on {self.location}: {str(exc.orig).strip()}",
                        url=self.location,
                    ) from None
        finally:
            engine.dispose()

    def _stream(self, conn: Any) -> Iterator[pa.RecordBatch]:
        rows_per_chunk = self.options.batch_rows
        result = conn.execution_options(stream_results=True).execute(text(self.options.query or ""))
        if not result.returns_rows:
            raise ValidationError("the query returns no rows (use a SELECT)")
        names = list(result.keys())
        check_dtype_columns(self.options.dtypes, names, "the query result")
        schema: pa.Schema | None = None
        for chunk in result.partitions(rows_per_chunk):
            columns = list(zip(*chunk, strict=True))
            batch = self._to_batch(names, columns, schema)
            if schema is None:
                schema = _fix_nulls(batch.schema)
            yield cast_batch(batch, schema, "the query result")

    def _to_batch(
        self, names: list[str], columns: list[Any], schema: pa.Schema | None
    ) -> pa.RecordBatch:
        dtypes = dict(self.options.dtypes or {})
        arrays = []
        for name, values in zip(names, columns, strict=True):
            dtype = dtypes.get(name) or (schema.field(name).type if schema else None)
            if dtype is not None and (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)):
                values = [None if v is None else str(v) for v in values]
            try:
                arrays.append(pa.array(values, type=dtype, from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise ValidationError(
                    f"column {name!r} of the query result holds values of mixed types ({exc}); "
                    f"declare its type, e.g. dtypes={{'{name}': 'string'}}",
                    column=name,
                ) from None
        return pa.RecordBatch.from_arrays(arrays, names=names)


def _fix_nulls(schema: pa.Schema) -> pa.Schema:
    for i, field in enumerate(schema):
        if pa.types.is_null(field.type):
            schema = schema.set(i, pa.field(field.name, pa.string()))
    return schema
