"""Model references: ``churn``, ``churn@3``, ``churn@latest``, ``churn@champion``."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.exceptions import ValidationError
from modelyard.store import check_alias, check_model_name

__all__ = ["ModelRef", "parse_model_ref"]


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: a version number, an alias, or None for the newest."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.alias or 'latest'}"


def parse_model_ref(ref: str | ModelRef) -> ModelRef:
    """Parse ``NAME``, ``NAME@VERSION``, ``NAME@latest`` or ``NAME@ALIAS``.

    Raises:
        ValidationError: The name, version or alias is malformed.
    """
    if isinstance(ref, ModelRef):
        return ref
    if not isinstance(ref, str) or not ref:
        raise ValidationError(
            f"model reference {ref!r} is not valid: use NAME, NAME@VERSION or NAME@ALIAS "
            "(e.g. churn@3, churn@champion)"
        )
    name, sep, selector = ref.partition("@")
    check_model_name(name)
    if not sep or selector == "latest":
        return ModelRef(name)
    if selector.isdigit():
        version = int(selector)
        if version < 1 or len(selector) > 9:
            raise ValidationError(f"version {selector!r} in {ref[:200]!r} must be 1 or more")
        return ModelRef(name, version=version)
    return ModelRef(name, alias=check_alias(selector))
