"""Data validation rules: every kind, YAML, quarantine, hostile SQL, odd column names."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from modelyard.data.report import RuleResult, ValidationReport, json_safe
from modelyard.data.rules import (
    Rules,
    evaluate,
    has_schema,
    in_range,
    in_set,
    matches,
    not_null,
    quarantine,
    row_count,
    sql_predicate,
    unique,
)
from modelyard.exceptions import DataQualityError, NotFoundError, ValidationError

Writer = Callable[..., Path]

CUSTOMERS = {
    "customer_id": ["c1", "c2", "c2", "c4", None, "c6", "c7", "c8"],
    "age": [25, 17, 40, None, 111, 30, 18, 110],
    "plan": ["basic", "gold", None, "premium", "basic", "standard", "basic", "basic"],
    "email": ["a@x.io", "bad", "b@y.io", None, "c@z", "no-at", "d@q.io", "e@r.io"],
    "monthly": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0],
    "total": [100.0, 10.0, None, 400.0, 40.0, 600.0, 700.0, 800.0],
}


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """Write a table (a dict of columns, or a pa.Table) to a Parquet file, return its path."""
    counter = iter(range(1_000))

    def make(data: dict[str, list[Any]] | pa.Table, name: str | None = None) -> Path:
        table = data if isinstance(data, pa.Table) else pa.table(data)
        path = tmp_path / (name or f"part-{next(counter)}.parquet")
        pq.write_table(table, path)
        return path

    return make


def run(rules: Rules, *paths: Path, sample_size: int = 5) -> ValidationReport:
    """Evaluate with the schema and row count taken from the files, as a caller would."""
    schema = pq.read_schema(paths[0])
    num_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in paths)
    return evaluate(rules, list(paths), schema=schema, num_rows=num_rows, sample_size=sample_size)


def only(report: ValidationReport) -> RuleResult:
    assert len(report.results) == 1
    return report.results[0]


# --- each rule kind: pass and fail ---------------------------------------------------


def test_not_null_counts_nulls_and_samples_their_locations(write: Writer) -> None:
    path = write(CUSTOMERS)
    result = only(run(Rules([not_null("age")]), path))
    assert (result.passed, result.failing_count, result.failing_percent) == (False, 1, 12.5)
    assert result.samples == [{"file": str(path), "row": 3}]
    assert result.message == "1 row (12.50%) null"
    assert result.kind == "not_null"
    assert result.columns == ["age"]
    assert result.on_fail == "error"
    assert only(run(Rules([not_null("monthly")]), path)).passed


def test_unique_fails_every_row_of_a_duplicated_key_and_skips_null_keys(write: Writer) -> None:
    path = write({"k": ["a", "b", "b", "b", None, None, "c", "c"], "j": [1, 1, 2, 1, 5, 5, 1, 1]})
    single = only(run(Rules([unique("k")]), path))
    assert (single.failing_count, single.failing_percent) == (5, 62.5)
    assert single.samples == ["b", "c"]  # the smallest duplicated keys
    assert single.message == "5 rows (62.50%) with a duplicated key (2 distinct keys)"
    combo = only(run(Rules([unique(["k", "j"])]), path))
    assert combo.failing_count == 4  # (b,1) twice, (c,1) twice; (None,5) is not checked
    assert combo.samples == [{"k": "b", "j": 1}, {"k": "c", "j": 1}]
    assert combo.rule == "unique(k, j)"
    assert only(run(Rules([unique("j")]), write({"j": [1, 2, None, None]}))).passed


def test_in_range_is_inclusive_skips_nulls_and_fails_nan(write: Writer) -> None:
    path = write(CUSTOMERS)
    both = only(run(Rules([in_range("age", min=18, max=110)]), path))
    assert (both.failing_count, both.samples) == (2, [17, 111])
    assert both.message == "2 rows (25.00%) outside [18, 110]"
    low = only(run(Rules([in_range("age", min=18)]), path))
    assert (low.failing_count, low.message) == (1, "1 row (12.50%) below 18")
    high = only(run(Rules([in_range("age", max=110)]), path))
    assert (high.failing_count, high.samples) == (1, [111])
    assert only(run(Rules([in_range("age", min=0, max=200)]), path)).message == (
        "all non-null values within [0, 200]"
    )
    floats = write({"x": [1.0, float("nan"), None, 5.0]})
    nan = only(run(Rules([in_range("x", min=0.0, max=10.0)]), floats))
    assert nan.failing_count == 1
    assert np.isnan(nan.samples[0])


def test_in_range_on_dates_and_decimals(write: Writer) -> None:
    days = [dt.date(2020, 1, 1), dt.date(2024, 6, 1), None]
    path = write({"d": days, "amount": pa.array([Decimal("1.50"), Decimal("99.99"), None])})
    rules = Rules(
        [
            in_range("d", min=dt.date(2021, 1, 1)),
            in_range("d", max="2023-01-01", name="iso string bound"),
            in_range("amount", max=Decimal("50")),
        ]
    )
    results = run(rules, path).results
    assert [r.failing_count for r in results] == [1, 1, 1]
    assert results[0].samples == [dt.date(2020, 1, 1)]
    assert results[2].samples == [Decimal("99.99")]


def test_in_set_skips_nulls(write: Writer) -> None:
    path = write(CUSTOMERS)
    result = only(run(Rules([in_set("plan", ["basic", "standard", "premium"])]), path))
    assert (result.failing_count, result.samples) == (1, ["gold"])
    assert result.message == "1 row (12.50%) not in {'basic', 'standard', 'premium'}"
    ints = write({"n": [1, 2, 3, None]})
    assert only(run(Rules([in_set("n", [1, 2, 3])]), ints)).passed


def test_matches_needs_a_full_match_and_skips_nulls(write: Writer) -> None:
    path = write(CUSTOMERS)
    result = only(run(Rules([matches("email", r"^[^@]+@[^@]+\.[a-z]+$")]), path))
    assert (result.failing_count, result.samples) == (3, ["bad", "c@z", "no-at"])
    partial = only(run(Rules([matches("email", "@")]), path))
    assert partial.failing_count == 7  # "@" alone matches no whole value


def test_row_count_min_and_max(write: Writer) -> None:
    path = write(CUSTOMERS)
    results = run(Rules([row_count(min=8, max=8), row_count(min=9, name="more")]), path).results
    assert results[0].passed
    assert results[0].message == "8 rows"
    assert not results[1].passed
    assert results[1].message == "8 rows; expected at least 9"
    assert results[1].failing_count == 0
    assert results[1].samples == ["8 rows; expected at least 9"]
    too_many = only(run(Rules([row_count(max=3)]), path))
    assert too_many.message == "8 rows; expected at most 3"


def test_schema_accepts_aliases_and_reports_each_problem(write: Writer) -> None:
    path = write(CUSTOMERS)
    ok = has_schema({"customer_id": "utf8", "age": "int64", "monthly": "float64"})
    assert only(run(Rules([ok]), path)).passed
    bad = has_schema({"customer_id": "string", "age": "string", "zip": "int32"}, exact=True)
    result = only(run(Rules([bad]), path))
    assert not result.passed
    assert "column 'age': expected string, got int64" in result.samples
    assert "missing column 'zip' (expected int32)" in result.samples
    assert "unexpected column 'plan'" in result.samples
    assert len(result.samples) == 6
    large = write(
        pa.table({"s": pa.array(["x"], pa.large_string()), "t": pa.array([1], pa.int8())})
    )
    loose = has_schema({"s": "string", "t": "int8"})
    assert only(run(Rules([loose]), large)).passed
    stamp = write(pa.table({"ts": pa.array([0], pa.timestamp("ms", tz="UTC"))}))
    assert only(run(Rules([has_schema({"ts": "timestamp[ms, tz=UTC]"})]), stamp)).passed


def test_sql_rule_fails_false_and_null_rows_with_the_full_row_as_sample(write: Writer) -> None:
    path = write(CUSTOMERS)
    rule = sql_predicate("total >= monthly -- a trailing comment", name="charges")
    result = only(run(Rules([rule]), path))
    assert result.failing_count == 3  # 10 < 20, total NULL, 40 < 50
    assert [row["customer_id"] for row in result.samples] == ["c2", "c2", None]
    assert set(result.samples[0]) == set(CUSTOMERS)
    with_null_ok = sql_predicate("total >= monthly OR total IS NULL")
    assert only(run(Rules([with_null_ok]), path)).failing_count == 2


def test_nan_rows_are_judged_alike_by_counts_samples_and_quarantine(
    write: Writer, tmp_path: Path
) -> None:
    # Parquet min/max statistics leave NaN out; pruning on them would lose these rows.
    path = write({"x": [1.0, float("nan"), 2.0]})
    rules = Rules([in_range("x", min=0.0, max=5.0), sql_predicate("x < 5.0", name="lt")])
    ranged, below = run(rules, path).results
    assert (ranged.failing_count, len(ranged.samples)) == (1, 1)
    assert (below.failing_count, len(below.samples)) == (1, 1)  # DuckDB orders NaN above all
    for rule in rules.rules:
        good, bad = quarantine(
            Rules([rule], on_fail="quarantine"),
            [path],
            out_good=tmp_path / "g.parquet",
            out_bad=tmp_path / "b.parquet",
        )
        assert (good, bad) == (2, 1)
        assert np.isnan(pq.read_table(tmp_path / "b.parquet").column("x")[0].as_py())


def test_all_rules_pass_on_clean_data(write: Writer) -> None:
    path = write({"id": [1, 2, 3], "s": ["a", "b", "c"]})
    rules = Rules(
        [
            not_null("id"),
            unique("id"),
            in_range("id", min=1, max=3),
            in_set("s", ["a", "b", "c"]),
            matches("s", "[a-c]"),
            row_count(min=1),
            has_schema({"id": "int64"}),
            sql_predicate("id > 0"),
        ]
    )
    report = run(rules, path)
    assert report.passed
    assert report.failed_with("error") == []
    assert all(r.failing_count == 0 and r.samples == [] for r in report.results)
    report.raise_for_errors()
    assert "8 rules passed (3 rows" in report.summary()


# --- datasets: empty, several files -----------------------------------------------------


def test_empty_dataset_passes_everything_but_row_count_min(write: Writer) -> None:
    schema = pa.schema([("id", pa.string()), ("age", pa.int64())])
    path = write(schema.empty_table())
    rules = Rules(
        [
            not_null("id"),
            unique("id"),
            in_range("age", min=0),
            in_set("id", ["a"]),
            matches("id", "a"),
            sql_predicate("age > 0"),
            row_count(min=1),
            row_count(max=10, name="max ok"),
        ]
    )
    report = run(rules, path)
    assert [r.passed for r in report.results] == [True] * 6 + [False, True]
    assert all(r.failing_percent == 0.0 for r in report.results)
    assert report.results[6].message == "0 rows; expected at least 1"


def test_multiple_files_are_one_table(write: Writer) -> None:
    first = write({"id": [1, 2, None], "v": [1.0, -1.0, 2.0]})
    second = write({"id": [2, 4, None], "v": [-5.0, 3.0, 1.0]})
    rules = Rules([not_null("id"), unique("id"), in_range("v", min=0.0), row_count(min=6, max=6)])
    report = run(rules, first, second)
    nulls, dups, ranged, count = report.results
    assert nulls.failing_count == 2
    assert nulls.samples == [{"file": str(first), "row": 2}, {"file": str(second), "row": 2}]
    assert (dups.failing_count, dups.samples) == (2, [2])  # one 2 in each file
    assert (ranged.failing_count, ranged.samples) == (2, [-1.0, -5.0])
    assert count.passed
    assert report.num_rows == 6


def test_missing_or_no_files_are_refused(write: Writer, tmp_path: Path) -> None:
    rules = Rules([not_null("id")])
    schema = pa.schema([("id", pa.int64())])
    with pytest.raises(NotFoundError, match="does not exist"):
        evaluate(rules, [tmp_path / "nope.parquet"], schema=schema, num_rows=0)
    with pytest.raises(ValidationError, match="no Parquet files"):
        evaluate(rules, [], schema=schema, num_rows=0)
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(ValidationError, match="cannot read"):
        evaluate(rules, [corrupt], schema=schema, num_rows=1)
    with pytest.raises(ValidationError, match="sample_size"):
        evaluate(rules, [write({"id": [1]})], schema=schema, num_rows=1, sample_size=-1)


def test_sample_size_limits_samples(write: Writer) -> None:
    path = write({"x": list(range(100))})
    assert len(only(run(Rules([in_range("x", max=10)]), path, sample_size=3)).samples) == 3
    ranged, unique_x = run(Rules([in_range("x", max=10), unique("x")]), path, sample_size=0).results
    assert ranged.failing_count == 89
    assert ranged.samples == []
    assert unique_x.samples == []


# --- column checks before evaluation ----------------------------------------------------


def test_unknown_column_lists_the_available_ones_before_any_evaluation(write: Writer) -> None:
    path = write({"a": [1], "b": ["x"]})
    with pytest.raises(ValidationError, match=r"unknown column 'nope' in rule 'not_null\(nope\)'"):
        run(Rules([row_count(min=0), not_null("nope")]), path)
    with pytest.raises(ValidationError, match="available columns: a, b"):
        Rules([unique(["a", "zz"])]).check_columns(pq.read_schema(path))
    Rules([has_schema({"zz": "int64"})]).check_columns(
        pq.read_schema(path)
    )  # a finding, not an error


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (matches("a", "x"), "matches needs a text column"),
        (in_range("b", min=1), r"min 1 \(int\) cannot be compared with column 'b'"),
        (in_range("a", max="9"), "cannot be compared with column 'a' of type int64"),
        (in_range("a", min=dt.date(2020, 1, 1)), "cannot be compared"),
        (in_set("a", ["1", "2"]), r"value '1' \(str\) cannot be compared with column 'a'"),
        (in_set("b", [True]), "cannot be compared"),
    ],
)
def test_rule_and_column_type_mismatch_is_refused(write: Writer, rule: Any, message: str) -> None:
    path = write({"a": [1], "b": ["x"]})
    with pytest.raises(ValidationError, match=message):
        run(Rules([rule]), path)


# --- security: hostile predicates, odd column names -------------------------------------


@pytest.mark.parametrize(
    "predicate",
    [
        "EXISTS (SELECT * FROM read_csv('/etc/passwd'))",
        "(SELECT count(*) FROM read_text('/etc/hostname')) > 0",
        "(SELECT count(*) FROM glob('/etc/*')) > 0",
        "EXISTS (SELECT * FROM read_parquet('{other}'))",
    ],
)
def test_a_predicate_cannot_read_other_files(write: Writer, predicate: str) -> None:
    path = write({"a": [1, 2]})
    other = write({"secret": ["s3cr3t"]}, name="other.parquet")
    rule = sql_predicate(predicate.format(other=other))
    with pytest.raises(ValidationError, match="is refused") as info:
        run(Rules([rule]), path)
    assert "s3cr3t" not in str(info.value)
    assert "root:x:" not in str(info.value)
    with pytest.raises(ValidationError, match="is refused"):
        quarantine(
            Rules([rule], on_fail="quarantine"),
            [path],
            out_good=path.parent / "g.parquet",
            out_bad=path.parent / "b.parquet",
        )


@pytest.mark.parametrize(
    "predicate",
    [
        "a > 1; DROP TABLE x",
        "a > 1) OR (1 = 1",
        "1) FROM t UNION SELECT (2",
        "a > 1, b",
        "SELECT 1",
        "a > 1 /* unterminated",
        "",
        "x" * 20_000,
    ],
)
def test_a_predicate_must_be_one_expression(predicate: str) -> None:
    with pytest.raises(ValidationError, match="predicate"):
        sql_predicate(predicate)


@pytest.mark.parametrize(
    ("predicate", "message"),
    [
        ("a = $p0", "is refused"),  # may not borrow another rule's bound value
        ("count(*) > 1", "is refused"),
        ("nope > 1", "is refused"),
        ("a + 1", "not BOOLEAN"),
        ("COPY_DATABASE('a', 'b')", "is refused"),
    ],
)
def test_a_predicate_is_bound_against_the_data_first(
    write: Writer, predicate: str, message: str
) -> None:
    path = write({"a": [1, 2]})
    with pytest.raises(ValidationError, match=message):
        run(Rules([in_range("a", min=0), sql_predicate(predicate)]), path)


def test_a_trailing_comment_cannot_swallow_the_generated_sql(write: Writer) -> None:
    path = write({"a": [1, 2, 3]})
    rules = Rules([sql_predicate("a > 1 --"), in_range("a", max=2)])
    first, second = run(rules, path).results
    assert (first.failing_count, second.failing_count) == (1, 1)


def test_a_runtime_error_in_one_rule_leaves_the_others_counted(write: Writer) -> None:
    path = write({"s": ["1", "2", "x"], "n": [1, 2, 30]})
    rules = Rules([in_range("n", max=10), sql_predicate("CAST(s AS INTEGER) > 0", name="cast")])
    ranged, broken = run(rules, path).results
    assert ranged.failing_count == 1
    assert ranged.error is None
    assert not broken.passed
    assert broken.error
    assert "Could not convert" in broken.error
    assert broken.message.startswith("could not be evaluated")


WEIRD = ['we"ird col', "a'b", "ünï cödé 列", "select", "x); DROP TABLE t; --", "file_row_number"]


def test_odd_column_names_are_quoted_everywhere(write: Writer, tmp_path: Path) -> None:
    dq, sq, uni, kw, inj, frn = WEIRD
    path = write(
        {
            dq: ["a", "a", None],
            sq: [1, 50, 3],
            uni: ["x@y", "nope", "p@q"],
            kw: ["k1", "k2", "zz"],
            inj: [1.0, 2.0, 3.0],
            frn: [0, 1, 2],
        },
        name="we'ird [file].parquet",
    )
    rules = Rules(
        [
            not_null(dq),
            unique(dq),
            in_range(sq, max=10),
            matches(uni, ".+@.+"),
            in_set(kw, ["k1", "k2"]),
            sql_predicate('"x); DROP TABLE t; --" < 3 AND "a\'b" > 0'),
            has_schema({dq: "string", uni: "string"}),
            not_null(frn),
        ]
    )
    counts = [r.failing_count for r in run(rules, path).results]
    assert counts == [1, 2, 1, 1, 1, 1, 0, 0]
    good, bad = quarantine(
        Rules(rules.rules[:6], on_fail="quarantine"),
        [path],
        out_good=tmp_path / "out" / "g'ood.parquet",
        out_bad=tmp_path / "out" / "b'ad.parquet",
    )
    assert (good, bad) == (0, 3)
    assert pq.read_table(tmp_path / "out" / "b'ad.parquet").column_names == WEIRD


def test_yaml_rules_on_odd_column_names(write: Writer) -> None:
    path = write({'we"ird col': [None, "v"], "ünï cödé 列": [5, 500]})
    text = """
rules:
  - not_null: 'we"ird col'
  - in_range: {column: "ünï cödé 列", max: 100}
"""
    assert [r.failing_count for r in run(Rules.from_yaml(text), path).results] == [1, 1]


# --- YAML and dict forms -----------------------------------------------------------------

FULL_YAML = """
on_fail: error            # default
rules:
  - not_null: [customer_id, signup_at]
  - unique: customer_id
  - unique: [customer_id, plan]
  - in_range: {column: age, min: 18, max: 110}
  - in_set: {column: plan, values: [basic, standard, premium]}
  - matches: {column: email, pattern: '^[^@]+@[^@]+$'}
  - row_count: {min: 100, max: 10000000}
  - schema: {columns: {customer_id: string, age: int64, monthly_charges: double}, exact: false}
  - sql: {name: charges_consistent, predicate: "total_charges >= monthly_charges OR total_charges IS NULL"}
    on_fail: warn
  - in_range: {column: signup_at, min: 2020-01-01}
    name: recent
    on_fail: quarantine
"""


def test_full_yaml_parses_and_round_trips() -> None:
    rules = Rules.from_yaml(FULL_YAML)
    assert [r.name for r in rules.rules] == [
        "not_null(customer_id)",
        "not_null(signup_at)",
        "unique(customer_id)",
        "unique(customer_id, plan)",
        "in_range(age)",
        "in_set(plan)",
        "matches(email)",
        "row_count",
        "schema",
        "charges_consistent",
        "recent",
    ]
    assert [rules.action_for(r) for r in rules.rules][-3:] == ["error", "warn", "quarantine"]
    assert rules.rules[-1].min == dt.date(2020, 1, 1)  # type: ignore[attr-defined]
    assert Rules.from_dict(rules.to_dict()) == rules
    assert Rules.from_dict(rules.to_dict()["rules"]) == rules  # a bare list works too


def test_yaml_from_a_path(tmp_path: Path) -> None:
    file = tmp_path / "rules.yaml"
    file.write_text("- not_null: a\n", encoding="utf-8")
    assert Rules.from_yaml(file) == Rules.from_yaml(str(file)) == Rules([not_null("a")])
    with pytest.raises(NotFoundError, match=r"missing\.yml"):
        Rules.from_yaml(str(tmp_path / "missing.yml"))


def test_bad_yaml_names_the_line() -> None:
    text = "rules:\n  - not_null: a\n  - in_range: {column: age, min: 1\n  - unique: b\n"
    with pytest.raises(ValidationError, match="line 4") as info:
        Rules.from_yaml(text)
    assert info.value.details["line"] == 4


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("", "a rules document is a list"),
        ("42", "a rules document is a list"),
        ("rules: {not_null: a}", "'rules' must be a list"),
        ("rules: []\nextra: 1", r"unknown top-level key\(s\) \['extra'\]"),
        ("on_fail: explode\nrules: []", "default on_fail 'explode' is not valid"),
        ("- nonsense: a", "valid kinds|not_null, unique, in_range, in_set, matches"),
        ("- not_null: a\n  unique: a", r"rule #1: 2 rule kinds \['not_null', 'unique'\]"),
        ("- name: lonely", "rule #1: 0 rule kinds"),
        ("- just a string", "rule #1: expected a mapping"),
        ("- not_null: 3", "expected a column name or a list of column names, got 3"),
        ("- not_null: [3]", "column must be a non-empty column name string, got 3"),
        ("- not_null: []", "expected a column name or a list"),
        ("- not_null: [a, b]\n  name: x", "give each column its own not_null entry"),
        ("- unique: [a, a]", "lists a column twice"),
        ("- in_range: {column: age}", "needs min, max, or both"),
        ("- in_range: {column: age, min: 10, max: 1}", "min 10 is greater than max 1"),
        ("- in_range: {column: age, min: [1]}", r"min must be a number"),
        ("- in_range: {column: age, min: 1, max: x}", "cannot be compared"),
        ("- in_range: {column: age, min: .nan}", "finite"),
        (
            "- in_range: {column: age, low: 1}",
            r"unknown key\(s\) \['low'\]; valid keys: column, min, max",
        ),
        ("- in_set: {column: plan}", r"missing key\(s\) \['values'\]"),
        ("- in_set: {column: plan, values: basic}", "values must be a list"),
        ("- in_set: {column: plan, values: []}", "non-empty list of values"),
        ("- in_set: {column: plan, values: [[1]]}", "values must be strings, numbers"),
        (
            "- matches: {column: e, pattern: '(unclosed'}",
            "invalid regular expression '\\(unclosed'",
        ),
        ("- matches: {column: e, pattern: '(?=x)'}", "invalid regular expression"),
        ("- matches: {column: e, pattern: 5}", "pattern must be a string"),
        ("- row_count: {min: -1}", "whole number >= 0"),
        ("- row_count: {min: 1e6}", "whole number >= 0, got '1e6'"),
        ("- row_count: {min: true}", "whole number"),
        ("- row_count:", "expected a mapping with keys min, max"),
        ("- schema: {columns: [a]}", "must map column names to type names"),
        ("- schema: {columns: {a: 5}}", "Arrow type names"),
        ("- schema: {columns: {a: int64}, exact: maybe}", "exact must be true or false"),
        ("- sql: {predicate: 'a > 1; DROP TABLE t'}", "not a single SQL expression"),
        ("- sql: {predicate: 'a > 1', name: x}\n  name: y", "name once"),
        ("- not_null: a\n  on_fail: ignore", "on_fail 'ignore' is not valid"),
        (
            "- not_null: a\n- not_null: a",
            r"two rules are named 'not_null\(a\)'; give one of them a distinct name",
        ),
    ],
)
def test_malformed_rules_are_refused_with_a_clear_message(doc: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Rules.from_yaml(doc)


def test_yaml_alias_bomb_fails_fast() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 30)]
    doc = "\n".join(levels) + "\nrules: [{in_set: {column: c, values: *a29}}]\n"
    started = time.perf_counter()
    with pytest.raises(ValidationError):
        Rules.from_yaml(doc)
    assert time.perf_counter() - started < 2


def test_python_form_validates_arguments() -> None:
    with pytest.raises(ValidationError, match="needs a list of values, got the string"):
        in_set("plan", "basic")
    with pytest.raises(ValidationError, match="rule objects"):
        Rules(["not_null: a"])  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="on_fail 'loud'"):
        not_null("a", on_fail="loud")
    with pytest.raises(ValidationError, match="min must be a number"):
        in_range("a", min=True)
    rule = unique("a", name="ids are unique", on_fail="warn")
    assert rule.to_dict() == {"unique": "a", "name": "ids are unique", "on_fail": "warn"}


# --- actions and the report --------------------------------------------------------------


def test_actions_and_failed_with(write: Writer) -> None:
    path = write(CUSTOMERS)
    rules = Rules(
        [
            not_null("age", on_fail="warn"),
            in_range("age", min=18, on_fail="quarantine"),
            row_count(min=100, on_fail="quarantine"),
            has_schema({"age": "int64"}),
        ],
        on_fail="error",
    )
    report = run(rules, path)
    assert [r.rule for r in report.failed_with("warn")] == ["not_null(age)"]
    assert [r.rule for r in report.failed_with("quarantine")] == ["in_range(age)"]
    errors = report.failed_with("error")
    assert [r.rule for r in errors] == ["row_count"]  # quarantine cannot apply to a dataset
    assert "acts as error" in errors[0].message
    with pytest.raises(ValidationError, match="unknown on_fail action"):
        report.failed_with("panic")
    with pytest.raises(DataQualityError, match="row_count") as info:
        report.raise_for_errors()
    assert info.value.report is report


def test_report_round_trips_through_json(write: Writer) -> None:
    path = write(
        {
            "d": [dt.datetime(2020, 1, 1, 12, 30), None],
            "b": [b"\x00\xff", b"ok"],
            "x": [float("nan"), 1.0],
            "dec": pa.array([Decimal("1.25"), Decimal("3.50")]),
        }
    )
    rules = Rules(
        [
            in_range("d", min=dt.datetime(2021, 1, 1)),
            sql_predicate("b = 'ok'::BLOB", name="bytes"),
            in_range("x", min=0.0),
            in_range("dec", max=Decimal("2")),
        ]
    )
    report = run(rules, path)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["results"][0]["samples"] == ["2020-01-01T12:30:00"]
    assert data["results"][1]["samples"][0]["b"] == "base64:AP8="
    assert data["results"][2]["samples"] == ["NaN"]
    assert data["results"][3]["samples"] == ["3.50"]
    again = ValidationReport.from_dict(data)
    assert [r.to_dict() for r in again.results] == data["results"]
    assert again.passed is False
    assert again.num_rows == 2
    with pytest.raises(ValidationError, match="malformed validation report"):
        ValidationReport.from_dict({"results": "nope"})
    with pytest.raises(ValidationError, match="malformed rule result"):
        ValidationReport.from_dict({"results": [{"kind": "x"}]})


def test_json_safe_handles_nested_and_odd_values() -> None:
    value = {"t": (dt.time(1, 2), dt.timedelta(seconds=3)), "inf": float("-inf"), 1: {2}}
    assert json_safe(value) == {"t": ["01:02:00", "0:00:03"], "inf": "-inf", "1": [2]}


# --- quarantine -------------------------------------------------------------------------


def _expected_bad(rows: list[dict[str, Any]]) -> set[int]:
    """Row ids failing: id null, age outside [18, 110], plan unknown, duplicated email."""
    emails = [r["email"] for r in rows if r["email"] is not None]
    bad = set()
    for r in rows:
        if (
            r["id"] is None
            or (r["age"] is not None and not 18 <= r["age"] <= 110)
            or (r["plan"] is not None and r["plan"] not in ("a", "b"))
            or (r["email"] is not None and emails.count(r["email"]) > 1)
        ):
            bad.add(r["row"])
    return bad


def test_quarantine_splits_exactly_the_failing_rows(write: Writer, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 600
    rows = [
        {
            "row": i,
            "id": None if rng.random() < 0.05 else i,
            "age": None if rng.random() < 0.1 else int(rng.integers(0, 130)),
            "plan": [None, "a", "b", "c"][int(rng.integers(0, 4))],
            "email": None if rng.random() < 0.1 else f"u{int(rng.integers(0, 500))}",
        }
        for i in range(n)
    ]
    table = pa.Table.from_pylist(rows)
    files = [write(table.slice(0, 250)), write(table.slice(250))]
    rules = Rules(
        [
            not_null("id"),
            in_range("age", min=18, max=110),
            in_set("plan", ["a", "b"]),
            unique("email"),
            row_count(min=10**9),  # dataset-level: never sets rows aside
            matches("email", "nomatch", on_fail="warn"),  # not a quarantine rule
        ],
        on_fail="quarantine",
    )
    good_path, bad_path = tmp_path / "q" / "good.parquet", tmp_path / "q" / "bad.parquet"
    good, bad = quarantine(rules, files, out_good=good_path, out_bad=bad_path)
    expected = _expected_bad(rows)
    assert good + bad == n
    assert bad == len(expected)
    assert 0 < bad < n
    assert set(pq.read_table(bad_path).column("row").to_pylist()) == expected
    assert set(pq.read_table(good_path).column("row").to_pylist()) == set(range(n)) - expected
    assert pq.read_schema(good_path).names == table.column_names
    report = run(Rules([r for r in rules.rules if r.kind != "row_count"]), *files)
    assert [r.failing_count for r in report.results[:4]] == [
        sum(r["id"] is None for r in rows),
        sum(r["age"] is not None and not 18 <= r["age"] <= 110 for r in rows),
        sum(r["plan"] == "c" for r in rows),
        len(_expected_bad([{**r, "id": 0, "age": None, "plan": None} for r in rows])),
    ]


def test_quarantine_without_quarantine_rules_keeps_everything(
    write: Writer, tmp_path: Path
) -> None:
    path = write(CUSTOMERS)
    good, bad = quarantine(
        Rules([not_null("age")]),
        [path],
        out_good=tmp_path / "g.parquet",
        out_bad=tmp_path / "b.parquet",
    )
    assert (good, bad) == (8, 0)
    assert pq.read_table(tmp_path / "b.parquet").schema.names == list(CUSTOMERS)


def test_quarantine_refuses_clobbering_inputs(write: Writer, tmp_path: Path) -> None:
    path = write(CUSTOMERS)
    rules = Rules([not_null("age")], on_fail="quarantine")
    with pytest.raises(ValidationError, match="must differ"):
        quarantine(rules, [path], out_good=path, out_bad=tmp_path / "b.parquet")
    with pytest.raises(ValidationError, match="must differ"):
        quarantine(rules, [path], out_good=tmp_path / "x.parquet", out_bad=tmp_path / "x.parquet")
    with pytest.raises(ValidationError, match="unknown column"):
        quarantine(
            Rules([not_null("nope")]), [path], out_good=tmp_path / "g", out_bad=tmp_path / "b"
        )


# --- scale ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_million_rows_in_one_scan(write: Writer, tmp_path: Path) -> None:
    n = 1_000_000
    rng = np.random.default_rng(42)
    numbers = np.arange(n)
    numbers[::250_000] = -1  # four rows share the key "c-1"
    ids = pc.binary_join_element_wise("c", pa.array(numbers).cast(pa.string()), "")
    table = pa.table(
        {
            "id": ids,
            "age": rng.integers(10, 120, n),
            "plan": rng.choice(["basic", "standard", "premium", "gold"], n),
            "email": np.where(rng.random(n) < 0.99, "a@b.io", "bad"),
            "monthly": rng.random(n) * 100,
            "total": rng.random(n) * 1000,
        }
    )
    path = write(table)
    rules = Rules(
        [
            not_null("id"),
            unique("id"),
            in_range("age", min=18, max=110),
            in_set("plan", ["basic", "standard", "premium"]),
            matches("email", "[^@]+@[^@]+"),
            sql_predicate("total >= monthly OR total IS NULL"),
            row_count(min=n, max=n),
        ]
    )
    started = time.perf_counter()
    report = evaluate(rules, [path], schema=table.schema, num_rows=n)
    elapsed = time.perf_counter() - started
    print(f"\nevaluate: {n:,} rows, {len(rules.rules)} rules in {elapsed:.2f}s")
    print(report.summary())
    started = time.perf_counter()
    good, bad = quarantine(
        Rules(rules.rules, on_fail="quarantine"),
        [path],
        out_good=tmp_path / "g.parquet",
        out_bad=tmp_path / "b.parquet",
    )
    print(f"quarantine: {good:,} good + {bad:,} bad in {time.perf_counter() - started:.2f}s")
    dup = report.results[1]
    assert (dup.failing_count, dup.samples) == (4, ["c-1"])
    age = table.column("age").to_numpy()
    assert report.results[2].failing_count == int(((age < 18) | (age > 110)).sum())
    assert good + bad == n
