"""Deployments: an endpoint name mapped to weighted model versions and shadows.

A deployment file (``modelyard serve --deployment deploy.yaml``)::

    deployments:
      - name: churn
        variants:
          - {model: churn@champion, weight: 95}
          - {model: churn@5, weight: 5}        # canary
        shadows: [churn@6]                     # gets a copy of traffic; never answers
        sticky: true                           # same request key -> same variant
    batching: {max_batch_size: 64, max_latency_ms: 2}

``modelyard serve churn@champion`` is the same as one deployment named ``churn``
with one variant. Routing picks a variant by weight: uniformly at random, or,
when the deployment is sticky and the request carries a key, by a hash of the
key, so one user keeps seeing one variant while the weights stay put.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard._utils.yaml_source import load_yaml_source
from modelyard.exceptions import ValidationError
from modelyard.registry import parse_model_ref

__all__ = [
    "BatchingSpec",
    "DeploymentSpec",
    "ServeSpec",
    "Variant",
    "make_deployment",
    "parse_serve_spec",
    "pick_variant",
    "spec_for_models",
]

_DEPLOYMENT_KEYS = ("name", "variants", "shadows", "sticky")
_VARIANT_KEYS = ("model", "weight")
_BATCHING_KEYS = ("max_batch_size", "max_latency_ms", "max_queue_rows", "enabled")


@dataclass(frozen=True)
class Variant:
    """One model version an endpoint routes to, with its share of traffic."""

    ref: str
    weight: float = 100.0


@dataclass(frozen=True)
class DeploymentSpec:
    """An endpoint: weighted variants, shadow versions, sticky routing."""

    name: str
    variants: tuple[Variant, ...]
    shadows: tuple[str, ...] = ()
    sticky: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The YAML/JSON form (what the admin API returns)."""
        return {
            "name": self.name,
            "variants": [{"model": v.ref, "weight": v.weight} for v in self.variants],
            "shadows": list(self.shadows),
            "sticky": self.sticky,
        }


@dataclass(frozen=True)
class BatchingSpec:
    """Adaptive batching settings shared by every model of a server."""

    enabled: bool = True
    max_batch_size: int = 64
    max_latency_ms: float = 2.0
    max_queue_rows: int = 10_000


@dataclass(frozen=True)
class ServeSpec:
    """Everything a server serves."""

    deployments: tuple[DeploymentSpec, ...]
    batching: BatchingSpec = field(default_factory=BatchingSpec)


def spec_for_models(refs: Sequence[str], batching: BatchingSpec | None = None) -> ServeSpec:
    """One single-variant deployment per model reference, named by the model."""
    if not refs:
        raise ValidationError("name at least one model to serve, e.g. churn@champion")
    deployments = []
    seen: set[str] = set()
    for ref in refs:
        name = parse_model_ref(ref).name
        if name in seen:
            raise ValidationError(
                f"{name!r} is named twice; to split traffic between its versions use a "
                "deployment file (--deployment) with weighted variants"
            )
        seen.add(name)
        deployments.append(DeploymentSpec(name, (Variant(ref),)))
    return ServeSpec(tuple(deployments), batching or BatchingSpec())


def parse_serve_spec(source: str | Path | Mapping[str, Any]) -> ServeSpec:
    """Parse a deployment file (YAML text, a path, or a mapping).

    Raises:
        ValidationError: Unknown keys, weights that are not positive numbers, a
            model reference that does not parse, duplicate deployment names.
    """
    doc = source if isinstance(source, Mapping) else load_yaml_source(source, "deployment file")
    if not isinstance(doc, Mapping) or "deployments" not in doc:
        raise ValidationError("a deployment file needs a 'deployments:' list")
    _known(doc, ("deployments", "batching"), "the deployment file")
    items = doc["deployments"]
    if not isinstance(items, list) or not items:
        raise ValidationError("'deployments' must be a non-empty list")
    deployments = [_deployment(item, f"deployments[{i}]") for i, item in enumerate(items)]
    names = [d.name for d in deployments]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(f"deployment name(s) used twice: {', '.join(duplicates)}")
    return ServeSpec(tuple(deployments), _batching(doc.get("batching") or {}))


def make_deployment(
    name: str,
    variants: Sequence[tuple[str, float]],
    shadows: Sequence[str] = (),
    sticky: bool = False,
) -> DeploymentSpec:
    """A checked deployment from plain values (the admin API and CLI use it)."""
    return _deployment(
        {
            "name": name,
            "variants": [{"model": r, "weight": w} for r, w in variants],
            "shadows": list(shadows),
            "sticky": sticky,
        },
        f"deployment {name!r}",
    )


def pick_variant(spec: DeploymentSpec, key: str | None = None) -> int:
    """The index of the variant a request goes to (by weight; by key hash when sticky)."""
    if len(spec.variants) == 1:
        return 0
    weights = [v.weight for v in spec.variants]
    total = sum(weights)
    if spec.sticky and key:
        digest = hashlib.blake2b(f"{spec.name}\0{key}".encode(), digest_size=8).digest()
        point = int.from_bytes(digest, "big") / 2**64 * total
    else:
        point = random.random() * total  # noqa: S311 - traffic splitting, not security
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    return len(weights) - 1


def _deployment(item: Any, where: str) -> DeploymentSpec:
    if not isinstance(item, Mapping):
        raise ValidationError(f"{where} must be a mapping with name and variants")
    _known(item, _DEPLOYMENT_KEYS, where)
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError(f"{where}.name must be a non-empty string")
    variants = item.get("variants")
    if not isinstance(variants, list) or not variants:
        raise ValidationError(f"{where}.variants must list at least one {{model, weight}}")
    parsed = tuple(_variant(v, f"{where}.variants[{i}]") for i, v in enumerate(variants))
    refs = [v.ref for v in parsed]
    if len(set(refs)) != len(refs):
        raise ValidationError(f"{where}: a model version is listed twice in variants")
    shadows = item.get("shadows") or []
    if not isinstance(shadows, list) or not all(isinstance(s, str) for s in shadows):
        raise ValidationError(f"{where}.shadows must be a list of model references")
    for ref in shadows:
        parse_model_ref(ref)
    sticky = item.get("sticky", False)
    if not isinstance(sticky, bool):
        raise ValidationError(f"{where}.sticky must be true or false")
    return DeploymentSpec(name, parsed, tuple(shadows), sticky)


def _variant(item: Any, where: str) -> Variant:
    if isinstance(item, str):
        item = {"model": item}
    if not isinstance(item, Mapping):
        raise ValidationError(f"{where} must be a model reference or {{model, weight}}")
    _known(item, _VARIANT_KEYS, where)
    ref = item.get("model")
    if not isinstance(ref, str):
        raise ValidationError(f"{where}.model must be a model reference such as churn@champion")
    parse_model_ref(ref)
    weight = item.get("weight", 100.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
        raise ValidationError(f"{where}.weight must be a positive number, not {weight!r}")
    return Variant(ref, float(weight))


def _batching(item: Any) -> BatchingSpec:
    if not isinstance(item, Mapping):
        raise ValidationError("'batching' must be a mapping")
    _known(item, _BATCHING_KEYS, "batching")
    spec = BatchingSpec(**dict(item))
    if not isinstance(spec.enabled, bool):
        raise ValidationError("batching.enabled must be true or false")
    for key in ("max_batch_size", "max_queue_rows"):
        value = getattr(spec, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(f"batching.{key} must be a positive integer, not {value!r}")
    if not isinstance(spec.max_latency_ms, int | float) or spec.max_latency_ms < 0:
        raise ValidationError("batching.max_latency_ms must be a number >= 0")
    return spec


def _known(item: Mapping[str, Any], valid: Sequence[str], where: str) -> None:
    unknown = sorted(str(k) for k in item if k not in valid)
    if unknown:
        raise ValidationError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
