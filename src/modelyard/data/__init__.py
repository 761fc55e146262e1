"""Data: versioned datasets, their sources, profiles, validation rules, masking and splits.

Owns everything between a source and a dataset version:

- reading files (CSV, Parquet, JSON lines), SQL queries and Redis Streams in bounded
  memory (``sources``, ``sql_source``, ``redis_source``), and consuming a stream with a
  consumer group (``stream``, ``sink``);
- PII masking before anything is stored (``masking``);
- the one-pass, mergeable profile (``profile``);
- validation rules evaluated in DuckDB (``rules``, ``rule_kinds``, ``table_rules``,
  ``rule_set``, ``validation``, ``report``);
- the staging pass and immutable, content-hashed versions in the artifact store
  (``staging``, ``client``, ``dataset``); deterministic splits (``splits``);
- SQL over versions (``queries``) and a synthetic churn table for demos (``synthetic``).

It sits in layer L2 and uses ``modelyard.store`` and ``modelyard.artifacts``.
Module-level functions (``ingest``, ``get``, ``query``...) use a default client
built from the settings, so ``import modelyard as my; my.data.get("churn@3")`` works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard._utils.lazy import lazy_exports

if TYPE_CHECKING:
    from modelyard.data.client import DataClient
    from modelyard.data.dataset import Dataset, Split
    from modelyard.data.dtypes import parse_dtype, parse_dtypes
    from modelyard.data.fluent import (
        append,
        connect,
        get,
        get_client,
        ingest,
        list_datasets,
        query,
        validate,
    )
    from modelyard.data.masking import Masker, MaskPolicy, parse_mask_policy
    from modelyard.data.profile import (
        ColumnChange,
        ColumnProfile,
        Profile,
        ProfileBuilder,
        compare_profiles,
    )
    from modelyard.data.refs import DatasetRef, parse_ref
    from modelyard.data.report import RuleResult, ValidationReport
    from modelyard.data.rules import (
        Rules,
        evaluate,
        has_schema,
        in_range,
        in_set,
        matches,
        not_null,
        row_count,
        sql_predicate,
        unique,
    )
    from modelyard.data.sink import DatasetSink
    from modelyard.data.sources import Source, SourceOptions, open_source
    from modelyard.data.splits import SplitSpec, assign_split
    from modelyard.data.stream import ConsumerConfig, ConsumerStats, StreamConsumer, StreamSink
    from modelyard.data.synthetic import make_churn

__all__ = [
    "ColumnChange",
    "ColumnProfile",
    "ConsumerConfig",
    "ConsumerStats",
    "DataClient",
    "Dataset",
    "DatasetRef",
    "DatasetSink",
    "MaskPolicy",
    "Masker",
    "Profile",
    "ProfileBuilder",
    "RuleResult",
    "Rules",
    "Source",
    "SourceOptions",
    "Split",
    "SplitSpec",
    "StreamConsumer",
    "StreamSink",
    "ValidationReport",
    "append",
    "assign_split",
    "compare_profiles",
    "connect",
    "evaluate",
    "get",
    "get_client",
    "has_schema",
    "in_range",
    "in_set",
    "ingest",
    "list_datasets",
    "make_churn",
    "matches",
    "not_null",
    "open_source",
    "parse_dtype",
    "parse_dtypes",
    "parse_mask_policy",
    "parse_ref",
    "query",
    "row_count",
    "sql_predicate",
    "unique",
    "validate",
]

# Each name's module, imported on first use (see modelyard._utils.lazy).
_EXPORTS = {
    "DataClient": "modelyard.data.client",
    "Dataset": "modelyard.data.dataset",
    "Split": "modelyard.data.dataset",
    "parse_dtype": "modelyard.data.dtypes",
    "parse_dtypes": "modelyard.data.dtypes",
    "append": "modelyard.data.fluent",
    "connect": "modelyard.data.fluent",
    "get": "modelyard.data.fluent",
    "get_client": "modelyard.data.fluent",
    "ingest": "modelyard.data.fluent",
    "list_datasets": "modelyard.data.fluent",
    "query": "modelyard.data.fluent",
    "validate": "modelyard.data.fluent",
    "Masker": "modelyard.data.masking",
    "MaskPolicy": "modelyard.data.masking",
    "parse_mask_policy": "modelyard.data.masking",
    "ColumnChange": "modelyard.data.profile",
    "ColumnProfile": "modelyard.data.profile",
    "Profile": "modelyard.data.profile",
    "ProfileBuilder": "modelyard.data.profile",
    "compare_profiles": "modelyard.data.profile",
    "DatasetRef": "modelyard.data.refs",
    "parse_ref": "modelyard.data.refs",
    "RuleResult": "modelyard.data.report",
    "ValidationReport": "modelyard.data.report",
    "Rules": "modelyard.data.rules",
    "evaluate": "modelyard.data.rules",
    "has_schema": "modelyard.data.rules",
    "in_range": "modelyard.data.rules",
    "in_set": "modelyard.data.rules",
    "matches": "modelyard.data.rules",
    "not_null": "modelyard.data.rules",
    "row_count": "modelyard.data.rules",
    "sql_predicate": "modelyard.data.rules",
    "unique": "modelyard.data.rules",
    "DatasetSink": "modelyard.data.sink",
    "Source": "modelyard.data.sources",
    "SourceOptions": "modelyard.data.sources",
    "open_source": "modelyard.data.sources",
    "SplitSpec": "modelyard.data.splits",
    "assign_split": "modelyard.data.splits",
    "ConsumerConfig": "modelyard.data.stream",
    "ConsumerStats": "modelyard.data.stream",
    "StreamConsumer": "modelyard.data.stream",
    "StreamSink": "modelyard.data.stream",
    "make_churn": "modelyard.data.synthetic",
}

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
