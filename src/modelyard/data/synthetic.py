"""A SYNTHETIC customer-churn table for demos, tests and benchmarks.

Every row is generated from a seeded random number generator: there are no real people
in it. Names come from short word lists, e-mail addresses use the reserved
``example.com/.net/.org`` domains (RFC 2606) and phone numbers the ``555-01xx`` range
set aside for fiction, so nothing can reach a real person even by accident.

The target ``churned`` follows a logistic model of the features (short tenure, a monthly
contract, many support calls, high charges, electronic checks and paperless billing raise
the odds), about 26% positive, so a good model reaches a ROC AUC of about 0.80-0.90.

``drift`` (0 = the reference, 1 = the most drifted) moves things proportionally:

- covariates: monthly charges +15% within a plan (about +30% overall, with the plan mix),
  customers 6 years older, one more support call on average, 25% shorter tenure, more
  premium plans and monthly contracts, the region mix tilting from ``north`` towards
  ``west`` and ``central``, more paperless billing;
- concept (the feature-target relation): the effect of support calls fades and turns
  slightly protective (coefficient x (1 - 1.2 drift)), tenure and contract matter half as
  much at drift 1, the effect of charges grows 2.5x, customers in ``west`` churn more
  (+0.9 log-odds), and the intercept drops 0.8 so the churn rate stays near 26-31%. A
  logistic regression fitted at drift 0 scores a ROC AUC of about 0.84 on fresh drift-0
  data, 0.80 at drift 0.5 and 0.73 at drift 1.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.exceptions import ValidationError

__all__ = [
    "CHURN_COLUMNS",
    "CONTRACTS",
    "MAX_ROWS",
    "PAYMENT_METHODS",
    "PLANS",
    "REGIONS",
    "make_churn",
]

MAX_ROWS = 50_000_000
CHURN_COLUMNS = (
    "customer_id",
    "name",
    "email",
    "phone",
    "region",
    "plan",
    "contract",
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "num_products",
    "paperless_billing",
    "payment_method",
    "signup_at",
    "churned",
)

# Word lists rather than Faker: no dependency, and obviously made-up names.
_FIRST_WORDS = (
    "Ada Ben Cleo Dev Elif Femi Gus Hana Ivo Jun Kai Lena Milo Nia Omar Pia Quinn Rosa "
    "Sami Tara Uma Vik Wren Xia Yara Zed Ana Bo Cyd Dara Eli Fay Gil Ines Jo Kit Lux Mae"
)
_LAST_WORDS = (
    "Alder Birch Cedar Dune Ember Fern Grove Heath Iris Juniper Kestrel Larch Moss North "
    "Oak Pine Quarry Reed Sorrel Thorn Umber Vale Willow Yew Ash Brook Clay Dell Flint Gale"
)
_FIRST = tuple(_FIRST_WORDS.split())
_LAST = tuple(_LAST_WORDS.split())
_DOMAINS = ("example.com", "example.net", "example.org")
_AREA_CODES = ("201", "312", "415", "503", "617", "702", "808", "919")

REGIONS = ("north", "south", "east", "west", "central")
PLANS = ("basic", "standard", "premium")
CONTRACTS = ("monthly", "annual", "two_year")
PAYMENT_METHODS = ("electronic_check", "credit_card", "bank_transfer", "mailed_check")

# (reference, fully drifted) category mixes; drift interpolates between them.
_REGION_MIX = ((0.28, 0.22, 0.20, 0.16, 0.14), (0.14, 0.20, 0.20, 0.24, 0.22))
_PLAN_MIX = ((0.45, 0.35, 0.20), (0.30, 0.35, 0.35))
_CONTRACT_MIX = ((0.52, 0.27, 0.21), (0.65, 0.21, 0.14))
_PAYMENT_MIX = ((0.33, 0.25, 0.25, 0.17), (0.33, 0.25, 0.25, 0.17))
_CATEGORIES = {
    "region": REGIONS,
    "plan": PLANS,
    "contract": CONTRACTS,
    "payment_method": PAYMENT_METHODS,
}
# Aligned with CONTRACTS / PLANS.
_TENURE_MEAN = (14.0, 32.0, 48.0)
_CONTRACT_EFFECT = (0.9, -0.1, -1.3)
_PLAN_BASE = (35.0, 65.0, 95.0)
_NULL_SHARE = {"total_charges": 0.02, "monthly_charges": 0.01}


def make_churn(
    n_rows: int = 5000, *, seed: int = 0, drift: float = 0.0, start: str = "2024-01-01"
) -> pd.DataFrame:
    """Generate a synthetic customer-churn table (no real people; see the module docs).

    Args:
        n_rows: Number of customers, 1 to 50,000,000.
        seed: Seed of the random generator; the same arguments give the same table.
        drift: 0 (reference) to 1; shifts the feature distributions and the
            feature-target relation proportionally, as documented in the module.
        start: ISO date of the first signup; signups spread over the two years after it.

    Returns:
        One row per customer with the columns in ``CHURN_COLUMNS``: string ids and PII,
        string categories, int64 counts, float64 charges (a few percent NaN in
        ``monthly_charges`` and ``total_charges``), bool ``paperless_billing``,
        ``datetime64[ns]`` ``signup_at`` and an int64 0/1 target ``churned``.

    Raises:
        ValidationError: An argument is of the wrong type or out of range.

    Example:
        >>> reference = make_churn(10_000, seed=1)
        >>> current = make_churn(10_000, seed=2, drift=0.5)
    """
    n_rows, seed, drift, origin = _check_arguments(n_rows, seed, drift, start)
    rng = np.random.default_rng(seed)
    columns = _features(rng, n_rows, drift)
    for column, share in _NULL_SHARE.items():  # after the target: nulls hide, not change, it
        columns[column][rng.random(n_rows) < share] = np.nan
    seconds = rng.integers(0, 730 * 86_400, n_rows).astype("timedelta64[s]")
    columns["signup_at"] = (origin + seconds).astype("datetime64[ns]")
    columns["customer_id"] = _customer_ids(n_rows)
    columns.update(_contact_details(rng, n_rows))
    return pd.DataFrame(
        {
            name: columns[name].to_pandas()
            if isinstance(columns[name], pa.Array)
            else columns[name]
            for name in CHURN_COLUMNS
        }
    )


def _check_arguments(
    n_rows: object, seed: object, drift: object, start: object
) -> tuple[int, int, float, np.datetime64]:
    if not isinstance(n_rows, int | np.integer) or isinstance(n_rows, bool):
        raise ValidationError(f"n_rows must be an integer, got {n_rows!r}")
    if not 1 <= n_rows <= MAX_ROWS:
        raise ValidationError(f"n_rows must be between 1 and {MAX_ROWS:,}, got {n_rows:,}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValidationError(f"seed must be a non-negative integer, got {seed!r}")
    if (
        not isinstance(drift, int | float | np.floating | np.integer)
        or isinstance(drift, bool)
        or not math.isfinite(drift)
        or not 0.0 <= drift <= 1.0
    ):
        raise ValidationError(f"drift must be a number in [0, 1], got {drift!r}")
    try:
        origin = np.datetime64(pd.Timestamp(start).tz_localize(None).date(), "s")
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"start must be an ISO date such as '2024-01-01', got {start!r}"
        ) from exc
    if not 1700 <= origin.astype(object).year <= 2200:
        raise ValidationError(f"start must be a date between 1700 and 2200, got {start!r}")
    return int(n_rows), int(seed), float(drift), origin


def _mix(pair: tuple[tuple[float, ...], tuple[float, ...]], drift: float) -> np.ndarray:
    reference, drifted = np.asarray(pair[0]), np.asarray(pair[1])
    probabilities: np.ndarray = (1.0 - drift) * reference + drift * drifted
    probabilities /= probabilities.sum()
    return probabilities


def _categories(names: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    indices = pa.array(codes.astype(np.int8))
    return pa.DictionaryArray.from_arrays(indices, pa.array(names)).dictionary_decode()


def _features(rng: np.random.Generator, n: int, drift: float) -> dict[str, Any]:
    codes = {
        name: rng.choice(len(values), size=n, p=_mix(mix, drift))
        for name, values, mix in (
            ("region", REGIONS, _REGION_MIX),
            ("plan", PLANS, _PLAN_MIX),
            ("contract", CONTRACTS, _CONTRACT_MIX),
            ("payment_method", PAYMENT_METHODS, _PAYMENT_MIX),
        )
    }
    age = np.clip(np.rint(rng.normal(44.0 + 6.0 * drift, 13.0, n)), 18, 90).astype(np.int64)
    products = np.minimum(1 + rng.poisson(0.9, n), 6).astype(np.int64)
    tenure_mean = np.asarray(_TENURE_MEAN)[codes["contract"]] * (1.0 - 0.25 * drift)
    tenure = np.clip(np.rint(rng.gamma(1.6, tenure_mean / 1.6)), 0, 72).astype(np.int64)
    base = np.asarray(_PLAN_BASE)[codes["plan"]] + 6.0 * (products - 1)
    monthly = (base + rng.normal(0.0, 8.0, n)) * (1.0 + 0.15 * drift)
    monthly = np.round(np.maximum(monthly, 10.0), 2)
    total = np.round(np.maximum(tenure * monthly * rng.normal(1.0, 0.03, n), 0.0), 2)
    calls = rng.poisson(1.0 + 0.4 * (codes["plan"] == 0) + 1.0 * drift).astype(np.int64)
    paperless = rng.random(n) < 0.6 + 0.1 * drift
    logit = _churn_logit(codes, tenure, monthly, calls, age, paperless, drift)
    churned = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    return {
        **{name: _categories(names, codes[name]) for name, names in _CATEGORIES.items()},
        "age": age,
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "support_calls": calls,
        "num_products": products,
        "paperless_billing": paperless,
        "churned": churned,
    }


def _churn_logit(
    codes: dict[str, np.ndarray],
    tenure: np.ndarray,
    monthly: np.ndarray,
    calls: np.ndarray,
    age: np.ndarray,
    paperless: np.ndarray,
    drift: float,
) -> np.ndarray:
    # The coefficients move with drift (see the module docstring): that is the concept drift.
    contract = np.asarray(_CONTRACT_EFFECT)[codes["contract"]]
    logit: np.ndarray = (
        -1.6
        - 0.8 * drift
        - 0.055 * (1.0 - 0.5 * drift) * tenure
        + 1.2 * (1.0 - 0.5 * drift) * contract
        + 0.5 * (1.0 - 1.2 * drift) * calls
        + 0.022 * (1.0 + 1.5 * drift) * (monthly - 65.0)
        + 0.5 * (codes["payment_method"] == PAYMENT_METHODS.index("electronic_check"))
        + 0.3 * paperless
        - 0.012 * (age - 45.0)
        + 0.9 * drift * (codes["region"] == REGIONS.index("west"))
    )
    return logit


def _customer_ids(n: int) -> pa.Array:
    width = max(6, len(str(n)))
    numbers = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    return pc.binary_join_element_wise("C", pc.utf8_lpad(numbers, width, "0"), "")


def _contact_details(rng: np.random.Generator, n: int) -> dict[str, pa.Array]:
    # Built with Arrow string kernels so millions of rows take seconds, not minutes.
    first = pc.take(pa.array(_FIRST), pa.array(rng.integers(0, len(_FIRST), n)))
    last = pc.take(pa.array(_LAST), pa.array(rng.integers(0, len(_LAST), n)))
    number = pc.cast(pa.array(rng.integers(1, 1000, n)), pa.string())
    domain = pc.take(pa.array(_DOMAINS), pa.array(rng.integers(0, len(_DOMAINS), n)))
    email = pc.binary_join_element_wise(
        pc.utf8_lower(first), ".", pc.utf8_lower(last), number, "@", domain, ""
    )
    area = pc.take(pa.array(_AREA_CODES), pa.array(rng.integers(0, len(_AREA_CODES), n)))
    line = pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 100, n)), pa.string()), 2, "0")
    return {
        "name": pc.binary_join_element_wise(first, last, " "),
        "email": email,
        "phone": pc.binary_join_element_wise("+1-", area, "-555-01", line, ""),
    }
