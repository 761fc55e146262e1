"""The data step of ``modelyard demo``: synthetic churn data, masked, validated, profiled."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import typer
from rich.markup import escape

from modelyard.cli._data_render import profile_table, report_table
from modelyard.cli.app import console, settings
from modelyard.data import DataClient, Dataset, ValidationReport, make_churn

__all__ = ["DEMO_MASKS", "DEMO_RULES", "ingest_demo_data"]

DEMO_MASKS = {"customer_id": "hmac", "email": "hmac", "name": "redact", "phone": "drop"}
DEMO_RULES = """\
# Rules for the synthetic churn table (rules see the data as stored, i.e. masked).
on_fail: error
rules:
  - not_null: [customer_id, tenure_months, churned]
  - unique: customer_id
  - in_set: {column: plan, values: [basic, standard, premium]}
  - in_range: {column: age, min: 18, max: 100}
  - in_range: {column: monthly_charges, min: 0}
  - matches: {column: email, pattern: '^[0-9a-f]{64}$'}
  - row_count: {min: 1000}
  - sql:
      name: charges_add_up
      predicate: "total_charges IS NULL OR total_charges >= monthly_charges * 0.5"
    on_fail: warn
"""


def ingest_demo_data(ctx: typer.Context, rows: int, seed: int) -> Dataset:
    """Generate the churn table, ingest it with masking and rules, and print the profile."""
    conf = settings(ctx)
    folder = conf.home / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "churn.csv"
    rules = folder / "churn-rules.yaml"
    make_churn(rows, seed=seed).to_csv(source, index=False)
    rules.write_text(DEMO_RULES, encoding="utf-8")
    client = DataClient.from_settings(conf)
    ctx.call_on_close(client.close)
    if conf.mask_key is None:
        client = _with_demo_key(ctx, client, conf.home / "demo-mask.key")
    dataset = client.ingest(source, "churn", mask=DEMO_MASKS, rules=rules)
    console.print(
        f"[bold]data:[/] {escape(str(source))} → [bold]{dataset.ref}[/] "
        f"({dataset.num_rows:,} rows, hash {dataset.content_hash[:12]}; synthetic, no real people)"
    )
    console.print("masked: " + ", ".join(f"{c}={p}" for c, p in dataset.masking.items()))
    if dataset.validation is not None:
        console.print(report_table(ValidationReport.from_dict(dataset.validation)))
    console.print(profile_table(dataset.profile, dataset.masking))
    split = dataset.split("default", kind="stratified", by="churned", seed=seed)
    console.print(
        f"split {split.name!r}: " + ", ".join(f"{k} {v:,}" for k, v in split.counts.items())
    )
    return dataset


def _with_demo_key(ctx: typer.Context, client: DataClient, path: Path) -> DataClient:
    """No mask key is configured: make one for this home (never a built-in default)."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        console.print(
            f"[dim]generated a masking key at {escape(str(path))}; set "
            f"MODELYARD_MASK_KEY_FILE={escape(str(path))} to mask the same way elsewhere[/]"
        )
    from modelyard.config import load_settings

    obj = ctx.find_root().obj or {}
    conf = load_settings(
        home=obj.get("home"), db_url=obj.get("db_url"), mask_key=path.read_text().strip()
    )
    client.close()
    keyed = DataClient.from_settings(conf)
    ctx.call_on_close(keyed.close)
    return keyed
