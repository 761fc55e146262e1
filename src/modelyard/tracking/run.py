"""An active run: the object users log to inside ``with my.start_run(...) as run:``."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import yaml

from modelyard.exceptions import ModelyardError, NotFoundError, ValidationError
from modelyard.store import ArtifactEntry, Metric, Run, now_ms

if TYPE_CHECKING:
    from modelyard.tracking.transport import Transport

__all__ = ["ActiveRun"]

_log = logging.getLogger(__name__)
_FIGURE_FORMATS = {".png", ".svg", ".pdf", ".jpg", ".jpeg"}


class ActiveRun:
    """A run in progress. Every ``log_*`` call is committed when it returns.

    Used as a context manager, the run ends FINISHED when the block completes,
    FAILED when it raises (the exception propagates, and its type is recorded in
    the ``error`` tag), KILLED on Ctrl-C.
    """

    def __init__(self, transport: Transport, run: Run) -> None:
        self._transport = transport
        self._run = run
        self.run_id = run.info.run_id
        self.experiment_id = run.info.experiment_id
        self.name = run.info.name
        self._ended = False

    def __repr__(self) -> str:
        return f"ActiveRun(run_id={self.run_id!r}, name={self.name!r})"

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ended:
            return
        if exc_type is None:
            self.end("FINISHED")
            return
        # The block's own exception must propagate whatever happens here, so the
        # bookkeeping is best effort (the store may be what failed).
        status = "KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED"
        try:
            if status == "FAILED":
                message = f"{exc_type.__name__}: {exc}".replace("\x00", "\\x00")
                self._transport.log_batch(self.run_id, tags={"error": message[:8000]})
            self.end(status)
        except ModelyardError:
            _log.exception("could not record the end of run %s as %s", self.run_id, status)

    def end(self, status: str = "FINISHED") -> None:
        """End the run with ``status`` (FINISHED, FAILED or KILLED); the block won't override it."""
        self._transport.update_run(self.run_id, status=status)
        self._ended = True

    def get(self) -> Run:
        """The run as stored now (params, tags, latest metrics)."""
        return self._transport.get_run(self.run_id)

    # -- params, metrics, tags -----------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Record one param (params are immutable: re-logging a new value is an error)."""
        self._transport.log_batch(self.run_id, params={key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several params in one transaction."""
        self._transport.log_batch(self.run_id, params=params)

    def log_metric(
        self, key: str, value: float, step: int = 0, timestamp: int | None = None
    ) -> None:
        """Record one metric point; every point is kept, the newest step is the "latest"."""
        self._transport.log_batch(
            self.run_id, metrics=[Metric(key, value, step, timestamp or now_ms())]
        )

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Record several metrics at the same step in one transaction."""
        if not isinstance(metrics, Mapping):
            raise ValidationError(f"metrics must be a mapping of key to number, got {metrics!r}")
        stamp = now_ms()
        self._transport.log_batch(
            self.run_id, metrics=[Metric(k, v, step, stamp) for k, v in metrics.items()]
        )

    def log_batch(
        self,
        metrics: Iterable[Metric] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Record metrics, params and tags together: all of it or nothing."""
        self._transport.log_batch(self.run_id, metrics=metrics, params=params, tags=tags)

    def set_tag(self, key: str, value: Any) -> None:
        """Set one tag (tags, unlike params, may be overwritten)."""
        self._transport.log_batch(self.run_id, tags={key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags in one transaction."""
        self._transport.log_batch(self.run_id, tags=tags)

    # -- artifacts -----------------------------------------------------------
    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[ArtifactEntry]:
        """Store a file, or every file under a folder, as artifacts of this run.

        Args:
            local_path: The file or folder to store.
            artifact_path: Logical folder to put it under (default: the top).

        Returns:
            One entry (logical path, blob hash, size) per stored file.

        Raises:
            NotFoundError: ``local_path`` does not exist.
            ValidationError: A symlink inside the folder points outside it.
        """
        source = Path(local_path)
        prefix = f"{artifact_path.strip('/')}/" if artifact_path else ""
        if source.is_file():
            return self._transport.put_artifacts(self.run_id, {prefix + source.name: source})
        if not source.is_dir():
            raise NotFoundError(f"{source} does not exist; log_artifact takes a file or a folder")
        root = source.resolve()
        files: dict[str, Path | bytes] = {}
        for path in sorted(source.rglob("*")):
            if path.is_dir():
                continue
            real = path.resolve()
            if not real.is_relative_to(root):
                raise ValidationError(
                    f"{path} is a symlink to {real}, outside {root}; it was not stored "
                    "(copy the file into the folder if you mean to log it)"
                )
            files[prefix + path.relative_to(source).as_posix()] = path
        return self._transport.put_artifacts(self.run_id, files)

    def log_bytes(self, data: bytes, artifact_path: str) -> ArtifactEntry:
        """Store raw bytes as an artifact at ``artifact_path``."""
        return self._transport.put_artifacts(self.run_id, {artifact_path: bytes(data)})[0]

    def log_text(self, text: str, artifact_path: str) -> ArtifactEntry:
        """Store text (UTF-8) as an artifact, e.g. ``log_text(report, "notes/report.md")``."""
        return self.log_bytes(text.encode("utf-8"), artifact_path)

    def log_dict(self, data: Mapping[str, Any] | list[Any], artifact_path: str) -> ArtifactEntry:
        """Store a dict as JSON, or as YAML when the path ends in ``.yaml``/``.yml``."""
        if artifact_path.endswith((".yaml", ".yml")):
            text = yaml.safe_dump(data, sort_keys=False)
        else:
            text = json.dumps(data, indent=2, sort_keys=False, default=str)
        return self.log_text(text, artifact_path)

    def log_figure(self, figure: Any, artifact_path: str) -> ArtifactEntry:
        """Store a matplotlib figure rendered to PNG, SVG, JPEG or PDF (by extension)."""
        suffix = Path(artifact_path).suffix.lower()
        if suffix not in _FIGURE_FORMATS:
            raise ValidationError(
                f"cannot tell the image format of {artifact_path!r}; end it with one of "
                f"{', '.join(sorted(_FIGURE_FORMATS))}"
            )
        if not hasattr(figure, "savefig"):
            raise ValidationError(
                f"log_figure takes a matplotlib Figure, got {type(figure).__name__}"
            )
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix.lstrip("."), bbox_inches="tight")
        return self.log_bytes(buffer.getvalue(), artifact_path)
