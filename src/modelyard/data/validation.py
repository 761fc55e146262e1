"""Evaluating rules over a dataset's Parquet files in DuckDB: :func:`evaluate`, :func:`quarantine`.

Rules never load the dataset into memory but run SQL over ``read_parquet([...])``:
one scan counts the failures of every row-level rule (``count(*) FILTER (WHERE ...)``
per rule), each ``unique`` rule adds one aggregation, and only failing rules get a
(``LIMIT``-ed) sample query. ``row_count`` and ``schema`` rules are judged from the
schema and row count; configured ``on_fail: quarantine``, their failure is reported
(and acts) as ``error``, since they cannot set rows aside.

Security: column names and ``sql`` predicates are user input. Identifiers are quoted
and values are bound parameters. Every query runs on a private connection whose
external access is disabled once the dataset files (and quarantine outputs) are
allow-listed, with extension auto-loading off and the configuration locked, so a
predicate cannot read or write any other file. A predicate can still burn CPU; run
untrusted rules with a time limit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.data._duck import SqlParams, first_line, lock_down, quote_ident, quote_literal
from modelyard.data._rule_values import brief, count_of
from modelyard.data.report import RuleResult, ValidationReport, format_percent
from modelyard.data.rule_kinds import NotNull, Rule
from modelyard.data.rule_set import Rules
from modelyard.data.table_rules import RowCount, SqlPredicate, Unique
from modelyard.exceptions import NotFoundError, ValidationError

__all__ = ["evaluate", "quarantine"]

_FILE_COLUMN = "__modelyard_file"


def _dataset_paths(files: Sequence[str | Path] | str | Path) -> list[str]:
    """Absolute paths of existing files; DuckDB's allow-list compares path strings."""
    listed = [files] if isinstance(files, str | Path) else list(files)
    if not listed:
        raise ValidationError("no Parquet files given; a dataset version has at least one")
    paths = []
    for item in listed:
        if not isinstance(item, str | Path) or "\0" in str(item):
            raise ValidationError(f"dataset file must be a path, got {brief(item)}")
        path = os.path.abspath(item)
        if not os.path.isfile(path):
            raise NotFoundError(f"dataset file {path!r} does not exist", path=path)
        paths.append(path)
    return paths


class _Sandbox:
    """A private DuckDB connection that can read ``paths`` (and write ``writable``) only."""

    def __init__(self, paths: list[str], writable: Sequence[str] = ()) -> None:
        self._tmp = tempfile.mkdtemp(prefix="modelyard-rules-")
        self.con = duckdb.connect(
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        )
        try:
            # Spilling needs a directory; a fresh private one exposes nothing.
            self.con.execute(f"SET temp_directory = {quote_literal(self._tmp)}")
            # Parquet min/max statistics leave NaN out, and DuckDB prunes and folds
            # comparisons with them, losing NaN rows (seen in 2.0): judge every row itself.
            self.con.execute("SET disabled_optimizers = 'filter_pushdown,statistics_propagation'")
            lock_down(self.con, [*paths, *writable], allowed_directories=[self._tmp])
        except BaseException:
            self.close()
            raise
        listed = ", ".join(quote_literal(p) for p in paths)
        self.source = f"read_parquet([{listed}])"
        self.located = f"read_parquet([{listed}], filename={quote_literal(_FILE_COLUMN)})"

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, dict(params or {})).fetchall()

    def dict_rows(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        cursor = self.con.execute(sql, dict(params))
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def check_readable(self) -> None:
        """Raise ValidationError when the files cannot be scanned at all."""
        try:
            self.rows(f"SELECT count(*) FROM {self.source}")  # noqa: S608
        except duckdb.Error as exc:
            raise ValidationError(
                f"cannot read the dataset's Parquet files: {first_line(exc)}"
            ) from exc

    def check_predicate(self, rule: SqlPredicate) -> None:
        """Bind ``rule``'s predicate without running it: columns, type, permissions."""
        expr = rule.expression
        # DESCRIBE binds without executing; WHERE rules out aggregates and windows.
        sql = f"DESCRIBE SELECT {expr} AS ok FROM {self.source} WHERE {expr}"  # noqa: S608
        try:
            kind = str(self.rows(sql)[0][1])
        except duckdb.Error as exc:
            raise ValidationError(
                f"sql rule {rule.name!r}: predicate {rule.predicate!r} is refused: "
                f"{first_line(exc)}; it may only read the dataset's columns",
                rule=rule.name,
            ) from exc
        if kind != "BOOLEAN":
            raise ValidationError(
                f"sql rule {rule.name!r}: predicate {rule.predicate!r} is "
                f"{kind}, not BOOLEAN; write a condition such as 'a >= b'",
                rule=rule.name,
            )

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> _Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Run:
    """What every result of one evaluation needs."""

    rules: Rules
    box: _Sandbox
    schema: pa.Schema
    num_rows: int
    sample_size: int

    def result(self, rule: Rule, count: int, samples: list[Any], **extra: Any) -> RuleResult:
        percent = 100.0 * count / self.num_rows if self.num_rows else 0.0
        if count:
            message = f"{count_of(count, 'row')} ({format_percent(percent)}) {rule.fails_as()}"
        else:
            message = rule.passes_as()
        fields: dict[str, Any] = {"message": message, **extra}
        return RuleResult(
            rule=rule.name,
            kind=rule.kind,
            columns=list(rule.columns_used),
            passed=count == 0 and fields.get("error") is None,
            failing_count=count,
            failing_percent=percent,
            samples=samples,
            on_fail=self.rules.action_for(rule),
            **fields,
        )

    def failed(self, rule: Rule, error: str) -> RuleResult:
        return self.result(rule, 0, [], error=error, message=f"could not be evaluated: {error}")


def _scan_counts(run: _Run, rules: list[Rule]) -> dict[str, int | str]:
    """Failing-row counts of the row-level ``rules`` from one scan (or an error each)."""
    if not rules:
        return {}
    params = SqlParams()
    filters = [f"count(*) FILTER (WHERE {r.failing_sql(params, run.schema)})" for r in rules]
    try:
        row = run.box.rows(f"SELECT {', '.join(filters)} FROM {run.box.source}", params.values)  # noqa: S608 - identifiers quoted, values bound
        return {rule.name: int(n) for rule, n in zip(rules, row[0], strict=True)}
    except duckdb.Error:
        run.box.check_readable()
    # One rule failed at run time (a bad cast, say); count each alone so the rest report.
    counts: dict[str, int | str] = {}
    for rule in rules:
        one = SqlParams()
        sql = f"SELECT count(*) FILTER (WHERE {rule.failing_sql(one, run.schema)}) FROM {run.box.source}"  # noqa: S608
        try:
            counts[rule.name] = int(run.box.rows(sql, one.values)[0][0])
        except duckdb.Error as exc:
            counts[rule.name] = first_line(exc)
    return counts


def _row_samples(run: _Run, rule: Rule) -> list[Any]:
    """A few failing values (rows for ``sql``, locations for ``not_null``), file order."""
    params = SqlParams()
    where = rule.failing_sql(params, run.schema)
    params.values["limit"] = run.sample_size
    if isinstance(rule, NotNull) and not {"file_row_number", _FILE_COLUMN} & set(run.schema.names):
        sql = f"SELECT {quote_ident(_FILE_COLUMN)}, file_row_number FROM {run.box.located} WHERE {where} LIMIT $limit"  # noqa: S608
        return [{"file": f, "row": int(n)} for f, n in run.box.rows(sql, params.values)]
    if isinstance(rule, SqlPredicate):
        sql = f"SELECT * FROM {run.box.source} WHERE {where} LIMIT $limit"  # noqa: S608
        return run.box.dict_rows(sql, params.values)
    column = quote_ident(rule.columns_used[0])
    sql = f"SELECT {column} FROM {run.box.source} WHERE {where} LIMIT $limit"  # noqa: S608
    return [value for (value,) in run.box.rows(sql, params.values)]


def _unique_result(run: _Run, rule: Unique) -> RuleResult:
    key, non_null = rule.key_sql()
    sql = (
        "SELECT count(*), coalesce(sum(n), 0), min(k, $limit) FROM ("  # noqa: S608
        f"SELECT {key} AS k, count(*) AS n FROM {run.box.source} WHERE {non_null} "
        "GROUP BY ALL HAVING count(*) > 1)"
    )
    try:
        keys, count, smallest = run.box.rows(sql, {"limit": max(run.sample_size, 1)})[0]
    except duckdb.Error as exc:
        return run.failed(rule, first_line(exc))
    samples = list(smallest or [])[: run.sample_size]
    if len(rule.columns) > 1:
        samples = [dict(zip(rule.columns, row, strict=True)) for row in samples]
    result = run.result(rule, int(count), samples)
    if count:
        result.message += f" ({count_of(int(keys), 'distinct key')})"
    return result


def _dataset_result(run: _Run, rule: Rule) -> RuleResult:
    problems = rule.problems(run.schema, run.num_rows)
    passed_as = count_of(run.num_rows, "row") if isinstance(rule, RowCount) else rule.passes_as()
    message = "; ".join(problems) or passed_as
    action = run.rules.action_for(rule)
    if problems and action == "quarantine":
        action = "error"
        message += " (on_fail quarantine acts as error: a dataset-level rule sets no rows aside)"
    return RuleResult(
        rule=rule.name,
        kind=rule.kind,
        columns=list(rule.columns_used),
        passed=not problems,
        samples=problems,
        on_fail=action,
        message=message,
    )


def evaluate(
    rules: Rules,
    files: Sequence[str | Path],
    *,
    schema: pa.Schema,
    num_rows: int,
    sample_size: int = 5,
) -> ValidationReport:
    """Evaluate ``rules`` over a dataset's Parquet files, without loading them.

    Args:
        rules: The rules.
        files: The dataset's Parquet files (read as one table).
        schema: The dataset's Arrow schema (for column checks and ``schema`` rules).
        num_rows: The dataset's row count (for ``row_count`` and percentages).
        sample_size: At most this many samples per failing rule.

    Returns:
        One result per rule, in rule order; it never raises for failing data (see
        :meth:`ValidationReport.raise_for_errors`).

    Raises:
        ValidationError: A rule names an unknown column or does not fit its type, an
            ``sql`` predicate does not bind (or reaches outside the data), or the
            files cannot be read.
        NotFoundError: A file does not exist.
    """
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 0:
        raise ValidationError(f"sample_size must be a whole number >= 0, got {brief(sample_size)}")
    rules.check_columns(schema)
    paths = _dataset_paths(files)
    started = time.perf_counter()
    with _Sandbox(paths) as box:
        for rule in rules.rules:
            if isinstance(rule, SqlPredicate):
                box.check_predicate(rule)
        run = _Run(rules, box, schema, num_rows, sample_size)
        counts = _scan_counts(run, [r for r in rules.rules if r.scope == "row"])
        results = [_result(run, rule, counts) for rule in rules.rules]
    return ValidationReport(results, num_rows, time.perf_counter() - started)


def _result(run: _Run, rule: Rule, counts: Mapping[str, int | str]) -> RuleResult:
    if rule.scope == "dataset":
        return _dataset_result(run, rule)
    if isinstance(rule, Unique):
        return _unique_result(run, rule)
    count = counts[rule.name]
    if isinstance(count, str):
        return run.failed(rule, count)
    try:
        samples = _row_samples(run, rule) if count and run.sample_size else []
    except duckdb.Error as exc:
        return run.failed(rule, first_line(exc))
    return run.result(rule, count, samples)


def _quarantine_flag(rules: list[Rule], box: _Sandbox, schema: pa.Schema, params: SqlParams) -> str:
    """SQL that is TRUE (never NULL) for rows failing any of the row-level ``rules``."""
    parts = []
    for rule in rules:
        if isinstance(rule, Unique):
            key, non_null = rule.key_sql()
            dups = (
                f"SELECT {key} FROM {box.source} WHERE {non_null} GROUP BY ALL HAVING count(*) > 1"  # noqa: S608
            )
            parts.append(f"coalesce({key} IN ({dups}), false)")
        else:
            parts.append(f"coalesce({rule.failing_sql(params, schema)}, false)")
    return " OR ".join(parts) or "false"


def quarantine(
    rules: Rules, files: Sequence[str | Path], *, out_good: Path, out_bad: Path
) -> tuple[int, int]:
    """Split a dataset by its ``quarantine`` rules into good and bad Parquet files.

    A row is bad when it fails any row-level rule whose action is ``quarantine``
    (``not_null``, ``in_range``, ``in_set``, ``matches``, ``sql``, and ``unique``, which
    sets aside every row of a duplicated key). Other rules, and dataset-level rules,
    are not consulted: evaluate them with :func:`evaluate`. Both files are written by
    DuckDB ``COPY`` in a streaming fashion (each file scans the data once, plus one
    aggregation per ``unique`` rule); row order is not guaranteed.

    Args:
        rules: The rules.
        files: The dataset's Parquet files.
        out_good: Where to write the rows that pass (parent folders are created).
        out_bad: Where to write the rows that fail.

    Returns:
        ``(good_rows, bad_rows)``; they add up to the dataset's row count.

    Raises:
        ValidationError: A rule does not fit the data, or an output path is an input
            or the other output.
        NotFoundError: A file does not exist.
    """
    paths = _dataset_paths(files)
    good, bad = os.path.abspath(out_good), os.path.abspath(out_bad)
    if good == bad or {good, bad} & set(paths):
        raise ValidationError(
            f"out_good {good!r} and out_bad {bad!r} must differ from each other and from "
            "the dataset's files"
        )
    schema = pq.read_schema(paths[0])  # the footer only; DuckDB unifies the files by position
    rules.check_columns(schema)
    chosen = [
        r for r in rules.rules if r.scope != "dataset" and rules.action_for(r) == "quarantine"
    ]
    for out in (good, bad):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    with _Sandbox(paths, writable=[good, bad]) as box:
        for rule in chosen:
            if isinstance(rule, SqlPredicate):
                box.check_predicate(rule)
        params = SqlParams()
        flag = _quarantine_flag(chosen, box, schema, params)
        counts = []
        for target, where in ((good, f"NOT ({flag})"), (bad, flag)):
            sql = f"COPY (SELECT * FROM {box.source} WHERE {where}) TO {quote_literal(target)} (FORMAT parquet, USE_TMP_FILE false)"  # noqa: S608
            try:
                counts.append(int(box.rows(sql, params.values)[0][0]))
            except duckdb.Error as exc:
                raise ValidationError(
                    f"quarantine failed writing {target!r}: {first_line(exc)}"
                ) from exc
    return counts[0], counts[1]
