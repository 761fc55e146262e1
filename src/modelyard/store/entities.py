"""The tracking records the store hands out: plain frozen dataclasses, no DB state."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ArtifactEntry", "Experiment", "Metric", "Run", "RunData", "RunInfo", "RunsPage"]


@dataclass(frozen=True)
class Experiment:
    """A named group of runs."""

    experiment_id: int
    name: str
    lifecycle_stage: str
    created_at: int
    updated_at: int
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    """One logged point: ``value`` of ``key`` at ``step``, logged at ``timestamp`` (ms)."""

    key: str
    value: float
    step: int = 0
    timestamp: int = 0


@dataclass(frozen=True)
class RunInfo:
    """What is known about a run apart from its logged data."""

    run_id: str
    experiment_id: int
    name: str
    status: str
    user_id: str
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    lifecycle_stage: str = "active"


@dataclass(frozen=True)
class RunData:
    """A run's params, tags and the latest value of each metric."""

    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """A run as stored: ``info`` plus ``data``."""

    info: RunInfo
    data: RunData

    @property
    def run_id(self) -> str:
        """The run's id (32 hex characters)."""
        return self.info.run_id

    def to_dict(self) -> dict[str, Any]:
        """The run as a JSON-able mapping."""
        return {
            "info": {k: getattr(self.info, k) for k in self.info.__dataclass_fields__},
            "data": {
                "params": dict(self.data.params),
                "metrics": dict(self.data.metrics),
                "tags": dict(self.data.tags),
            },
        }


@dataclass(frozen=True)
class RunsPage:
    """One page of search results; pass ``next_page_token`` back to get the next one."""

    runs: list[Run]
    next_page_token: str | None

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __getitem__(self, index: int) -> Run:
        return self.runs[index]

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per run: attributes, then ``params.*``, ``metrics.*``, ``tags.*``."""
        records = []
        for run in self.runs:
            record: dict[str, Any] = {
                "run_id": run.info.run_id,
                "experiment_id": run.info.experiment_id,
                "run_name": run.info.name,
                "status": run.info.status,
                "start_time": run.info.start_time,
                "end_time": run.info.end_time,
                "parent_run_id": run.info.parent_run_id,
            }
            for prefix, values in (
                ("params", run.data.params),
                ("metrics", run.data.metrics),
                ("tags", run.data.tags),
            ):
                record.update({f"{prefix}.{k}": v for k, v in sorted(values.items())})
            records.append(record)
        return records

    def to_pandas(self) -> Any:
        """The page as a pandas DataFrame, one row per run (see :meth:`to_records`)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.to_records())


@dataclass(frozen=True)
class ArtifactEntry:
    """A logical artifact path of a run and the blob holding its bytes."""

    path: str
    blob: str
    size: int
