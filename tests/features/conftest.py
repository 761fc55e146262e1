"""A realistic, seeded churn frame with every column kind, nulls and an identifier."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


def make_churn(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Customers with numeric, nullable-int, text, category, boolean and datetime columns."""
    rng = np.random.default_rng(seed)
    charges = rng.gamma(2.0, 30.0, n)
    tenure = rng.integers(0, 72, n)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    plan = rng.choice(["basic", "standard", "premium"], n)
    logit = 0.02 * charges - 0.05 * tenure + (region == "west") * 1.5 - 0.5
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "name": rng.choice(["Ann", "Bo", "Cy"], n),
            "monthly_charges": np.where(rng.random(n) < 0.1, np.nan, charges),
            "tenure_months": pd.array(np.where(rng.random(n) < 0.05, None, tenure), dtype="Int64"),
            "region": pd.Series(region, dtype="str"),
            "plan": pd.Series(plan, dtype="category"),
            "paperless": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "senior": rng.random(n) < 0.2,
            "signup_at": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 1500, n), "D"),
            "churn": churn,
        }
    )


@pytest.fixture
def churn() -> Callable[..., pd.DataFrame]:
    """Factory of churn frames: ``churn(n=400, seed=0)``."""
    return make_churn
