"""What the registry hands out: registered models, versions and their history.

The records are defined next to the tables they come from
(:mod:`modelyard.store.model_rows`); this module names them for registry users.
"""

from __future__ import annotations

from modelyard.store import ModelEvent, ModelVersion, RegisteredModel

__all__ = ["ModelEvent", "ModelVersion", "RegisteredModel"]
