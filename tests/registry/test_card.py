"""The model card: sections, charts, escaping, offline-ness, size bounds and writing."""

from __future__ import annotations

import base64
import dataclasses
import re
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from modelyard.exceptions import ValidationError
from modelyard.registry.card import CARD_SECTIONS, ModelCard, render_card, write_card
from tests.registry import _card_samples as samples

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def binary_card() -> ModelCard:
    return samples.binary_card()


@pytest.fixture(scope="module")
def regression_card() -> ModelCard:
    return samples.regression_card()


def captions(html: str) -> list[str]:
    return re.findall(r"<figcaption>(.*?)</figcaption>", html)


def markdown_svgs(markdown: str) -> list[str]:
    encoded = re.findall(r"\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", markdown)
    return [base64.b64decode(e).decode("utf-8") for e in encoded]


def test_html_and_markdown_have_every_section(binary_card: ModelCard) -> None:
    assert len(CARD_SECTIONS) == 11
    for title in CARD_SECTIONS:
        assert f"<h2>{title}</h2>" in binary_card.html
        assert f"\n## {title}\n" in binary_card.markdown
    headings = re.findall(r"^## (.*)$", binary_card.markdown, flags=re.M)
    assert headings == list(CARD_SECTIONS)


def test_header_shows_version_facts_and_gate_badge(binary_card: ModelCard) -> None:
    header = binary_card.html.split("</header>")[0]
    assert "Model card: churn@3" in header
    assert '<span class="badge good">gates passed</span>' in header
    for fact in ("<dd>champion</dd>", "<dd>ready</dd>", "<dd>binary</dd>", "2024-05-01 12:00 UTC"):
        assert fact in header
    assert binary_card.ref == "churn@3"
    assert binary_card.markdown.startswith("# Model card: churn@3\n\n**gates passed**")


def test_full_binary_evaluation_draws_eleven_charts(binary_card: ModelCard) -> None:
    html = binary_card.html
    assert html.count('<figure class="chart"><svg ') == len(samples.BINARY_CAPTIONS)
    assert captions(html) == list(samples.BINARY_CAPTIONS)
    svgs = markdown_svgs(binary_card.markdown)
    assert len(svgs) == len(samples.BINARY_CAPTIONS)
    for svg in svgs:  # standalone documents: well-formed, namespaced, with drawn paths
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 0
    for figure in re.findall(r'<figure class="chart">(<svg .*?</svg>)', html, flags=re.S):
        assert ET.fromstring(figure).findall(".//path")  # inline SVG is well-formed XML too


def test_metrics_table_shows_values_and_intervals(binary_card: ModelCard) -> None:
    assert "<tr><td>roc_auc</td><td>0.87</td><td>0.84 to 0.9</td></tr>" in binary_card.html
    assert "<tr><td>brier</td><td>0.14</td><td>—</td></tr>" in binary_card.html
    assert "| roc_auc | 0.87 | 0.84 to 0.9 |" in binary_card.markdown
    assert "from 200 bootstrap resamples" in binary_card.html


def test_sections_carry_checks_gates_packaging_lineage(binary_card: ModelCard) -> None:
    html = binary_card.html
    assert '<tr class="bad"><td>support_calls</td>' in html  # flagged leakage first
    assert '<tr class="warn"><td>monthly_charges</td><td>ks</td>' in html  # drifted
    assert "4 of 800 test rows also appear in the training data (0.5%)" in html
    assert '<tr class="good"><td>min_auc</td><td>threshold</td><td>PASS</td>' in html
    assert "unavailable: quantization needs a float model" in html
    assert "single p50 0.05 ms, batch p99 0.9 ms" in html
    assert "<dd><code>deadbeef</code></dd>" in html
    assert "<td>lightgbm</td><td>4.3.0</td>" in html
    limitations = html.split('<section id="limitations">')[1]
    for expected in (
        "Trained on EU customers only",
        "class balance differs between train and test by 6 points",
        "Possible target leakage: support_calls (roc_auc 0.97)",
        "Training and test data differ in: monthly_charges",
        "Demographic parity difference across region is 0.12",
        "Format onnx-int8 unavailable",
    ):
        assert expected in limitations


def test_regression_card_has_residual_charts_and_no_roc(regression_card: ModelCard) -> None:
    assert captions(regression_card.html) == list(samples.REGRESSION_CAPTIONS)
    assert "ROC" not in regression_card.html
    assert "Confusion matrix" not in regression_card.html
    assert "<dt>Residual p95</dt>" in regression_card.html
    assert "SHAP values unavailable: shap is not installed" in regression_card.html
    assert "No sensitive column was evaluated" in regression_card.html


def test_unevaluated_version_renders_with_hint() -> None:
    card = render_card(samples.version())
    hint = "<code>modelyard models evaluate churn@3</code>"
    assert card.html.count(hint) == 5  # metrics, performance, fairness, explanations, checks
    assert "`modelyard models evaluate churn@3`" in card.markdown
    assert "<svg" not in card.html
    assert "data:image" not in card.markdown
    assert '<span class="badge none">gates not checked</span>' in card.html
    assert "No promotion gates have been checked" in card.html
    assert "<tr><td>roc_auc</td><td>0.86</td></tr>" in card.html  # training-time metrics
    assert "Not evaluated on a holdout yet" in card.html
    assert "Not stated. Pass <code>intended_use=</code>" in card.html
    for title in CARD_SECTIONS:
        assert f"<h2>{title}</h2>" in card.html


def test_forced_promotion_shows_reason_and_failed_gate() -> None:
    gates = samples.gates(passed=False, forced=True, reason="hotfix for incident 42")
    card = render_card(samples.version(gates_doc=gates))
    assert '<span class="badge warn">promoted by force</span>' in card.html
    assert "<strong>Promoted by force</strong>: hotfix for incident 42" in card.html
    assert '<tr class="bad"><td>no_regression</td><td>champion</td><td>FAIL</td>' in card.html
    assert "worse than champion churn@2" in card.html
    failed = render_card(samples.version(gates_doc=samples.gates(passed=False)))
    assert '<span class="badge bad">gates failed</span>' in failed.html
    assert "Failed promotion gates: no_regression." in failed.html


def test_user_strings_are_escaped_everywhere() -> None:
    evaluation = samples.binary_evaluation(fairness_column=HOSTILE)
    evaluation["fairness"]["groups"][0]["group"] = HOSTILE
    evaluation["importance"][0]["feature"] = HOSTILE
    evaluation["partial_dependence"][0]["feature"] = "$\\frac$ & <b>"  # broken mathtext too
    evaluation["slices"] = {HOSTILE: [{"value": HOSTILE, "rows": 3, "metrics": {HOSTILE: 0.5}}]}
    evaluation["warnings"] = [HOSTILE]
    gates = samples.gates(passed=False, forced=True, reason=HOSTILE)
    version = dataclasses.replace(
        samples.version(evaluation=evaluation, gates_doc=gates), name=HOSTILE
    )
    card = render_card(version, intended_use=HOSTILE, limitations=[HOSTILE])
    assert "<script>" not in card.html
    assert "<b>" not in card.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card.html
    assert "Partial dependence on $\\frac$ &amp; &lt;b&gt;" in card.html
    assert "<script>" not in card.markdown
    assert "<b>" not in card.markdown
    assert "\\<script\\>alert(1)\\</script\\>" in card.markdown


def test_no_external_urls(binary_card: ModelCard, regression_card: ModelCard) -> None:
    for card in (binary_card, regression_card):
        assert "http://" not in card.html
        assert "https://" not in card.html
        targets = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", card.html)
        assert targets
        assert all(t.startswith("#") for t in targets)
        for forbidden in ("<script", "<link", "@import", "url(http"):
            assert forbidden not in card.html
        images = re.findall(r"!\[[^\]]*\]\(([^)]*)\)", card.markdown)
        assert images
        assert all(i.startswith("data:image/svg+xml;base64,") for i in images)


def test_chart_ids_are_unique_and_every_reference_resolves(binary_card: ModelCard) -> None:
    ids = re.findall(r'\sid="([^"]+)"', binary_card.html)
    assert len(ids) == len(set(ids))
    references = set(re.findall(r'(?:href="#|url\(#)([^")]+)', binary_card.html))
    assert references <= set(ids)


def test_rendering_is_repeatable_and_thread_safe() -> None:
    evaluation = {"task": "regression", "residuals": samples.regression_evaluation()["residuals"]}
    version = samples.version(task="regression", evaluation=evaluation)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(render_card(version).html)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    assert results[0] == results[1] == render_card(version).html


def test_huge_evaluation_stays_small() -> None:
    evaluation = samples.binary_evaluation()
    n = 10_000
    zigzag = [0.5 + 0.4 * (i % 2) for i in range(n)]  # a curve matplotlib cannot simplify away
    evaluation["roc"] = {"fpr": [i / n for i in range(n)], "tpr": zigzag, "auc": 0.9}
    evaluation["pr"] = {
        "precision": [1 - i / (2 * n) for i in range(n)],
        "recall": [i / n for i in range(n)],
    }
    evaluation["importance"] = [
        {"feature": f"f{i}", "mean": 1 / (i + 1), "std": 0.01} for i in range(500)
    ]
    evaluation["partial_dependence"] = [
        {"feature": f"f{i}", "kind": "numeric", "values": list(range(n)), "average": [0.0] * n}
        for i in range(500)
    ]
    evaluation["shap"] = {
        "features": [f"f{i}" for i in range(500)],
        "mean_abs": [1.0] * 500,
        "rows": 1,
    }
    evaluation["fairness"]["groups"] = [
        {"group": f"g{i}", "rows": 1, "selection_rate": 0.5} for i in range(200)
    ]
    evaluation["checks"]["shift"] = [
        {"feature": f"f{i}", "drifted": i % 2 == 0} for i in range(500)
    ]
    evaluation["confusion_matrix"] = {"labels": list(range(100)), "matrix": [[1] * 100] * 100}
    dataset = samples.dataset() | {"profile": [{"name": f"c{i}"} for i in range(500)]}
    card = render_card(samples.version(evaluation=evaluation), dataset=dataset)
    assert len(card.html.encode()) < 2_000_000
    assert len(card.markdown.encode()) < 2_500_000
    assert "Permutation importance (top 20 of 500 features)" in card.html
    assert "SHAP feature attribution (top 20 of 500 features)" in card.html
    assert captions(card.html).count("Partial dependence on f0") == 1
    assert len([c for c in captions(card.html) if c.startswith("Partial dependence")]) == 4
    assert "Showing 30 of 200 rows." in card.html
    assert "Showing 50 of 500 columns." in card.html
    assert "and 240 more" in card.html  # drifted features named in limitations, capped
    roc = card.html.split("<figcaption>ROC curve</figcaption>")[0].rsplit(
        '<figure class="chart">', 1
    )[1]
    longest = max(len(re.findall(r"\bL ", path)) for path in re.findall(r'<path d="([^"]*)"', roc))
    assert 20 <= longest <= 200  # the 10,000-point curve is thinned to 200 points


@pytest.mark.parametrize(
    "patch",
    [
        dict.fromkeys(samples.binary_evaluation()),
        {"metrics": {"auc": None, "acc": {"value": None}}, "roc": {"fpr": [0.0], "tpr": [None]}},
        {"roc": {"fpr": ["a", "b"], "tpr": [1, 2, 3]}, "pr": {"precision": [], "recall": []}},
        {"confusion_matrix": {"labels": ["a", "b"], "matrix": [[1], [2, 3]]}},
        {
            "calibration": {"prob_pred": [None] * 3, "prob_true": [0.1] * 3},
            "shap": {"features": None},
        },
        {
            "residuals": {"histogram": {"edges": [0, 1], "counts": [1, 2]}},
            "importance": [{"mean": None}],
        },
        {"roc": {"per_class": {"a": {"fpr": [0, 1], "tpr": [0, 1], "auc": 0.5}, "b": "junk"}}},
        {"partial_dependence": [{"feature": "x", "values": "abc", "average": [1]}, None, 3]},
        {"fairness": {"column": "g", "groups": [{"group": "a"}]}, "checks": {"leakage": "junk"}},
    ],
)
def test_partial_or_malformed_evaluation_still_renders(patch: dict[str, Any]) -> None:
    evaluation = {"task": "binary", "rows": 100} | patch
    card = render_card(samples.version(evaluation=evaluation))
    for title in CARD_SECTIONS:
        assert f"<h2>{title}</h2>" in card.html
    assert card.html.count("<svg") == len(markdown_svgs(card.markdown))


def test_multiclass_roc_draws_one_chart_with_a_curve_per_class() -> None:
    curve = {"fpr": [0, 0.2, 1], "tpr": [0, 0.7, 1], "auc": 0.75}
    evaluation = {"task": "multiclass", "roc": {"per_class": dict.fromkeys("abc", curve)}}
    card = render_card(samples.version(evaluation=evaluation))
    assert captions(card.html) == ["ROC curve"]
    roc = card.html.split('<figure class="chart">')[1]
    assert len(re.findall(r'<path d="M [^"]*"[^>]*stroke: #(?:2f6db5|d9822b|3a9a5b)', roc)) >= 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limitations": "one string"}, "limitations must be a sequence of strings"),
        ({"limitations": [1]}, "limitations must be a sequence of strings"),
        ({"dataset": ["churn@1"]}, "dataset must be a mapping or None"),
        ({"intended_use": 3}, "intended_use must be a string"),
    ],
)
def test_bad_arguments_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        render_card(samples.version(), **kwargs)


def test_bad_version_documents_are_rejected() -> None:
    with pytest.raises(ValidationError, match="render_card needs a ModelVersion, got dict"):
        render_card({"name": "churn"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="evaluation must be a mapping or None, got list"):
        render_card(samples.version(evaluation=[1, 2]))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "kind"), [("card.html", "html"), ("CARD.HTM", "html"), ("card.md", "md")]
)
def test_write_card_picks_the_format_by_suffix(tmp_path: Path, name: str, kind: str) -> None:
    card = ModelCard(ref="m@1", html="<!DOCTYPE html><p>é</p>", markdown="# m@1 é\n")
    written = write_card(card, tmp_path / name)
    assert written == tmp_path / name
    expected = card.html if kind == "html" else card.markdown
    assert written.read_text(encoding="utf-8") == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("name", ["card.txt", "card", "card.html.bak", "card.pdf"])
def test_write_card_rejects_other_suffixes(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationError, match=r"one of \.html, \.htm, \.md"):
        write_card(ModelCard("m@1", "h", "m"), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_write_card_into_missing_folder_names_the_path(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "card.html"
    with pytest.raises(ValidationError, match=r"cannot write the model card to .*missing"):
        write_card(ModelCard("m@1", "h", "m"), target)


def test_failed_write_leaves_old_file_and_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "card.html"
    target.write_text("old card", encoding="utf-8")
    broken = ModelCard("m@1", html="<p>" + "x" * 100_000 + "\ud800</p>", markdown="")
    with pytest.raises(ValidationError, match="cannot write the model card"):
        write_card(broken, target)
    assert target.read_text(encoding="utf-8") == "old card"
    assert [p.name for p in tmp_path.iterdir()] == ["card.html"]


def test_lone_surrogates_from_json_do_not_break_rendering(tmp_path: Path) -> None:
    evaluation = {"task": "regression", "warnings": ["bad \ud800 text"]}
    card = render_card(samples.version(task="regression", evaluation=evaluation))
    assert "bad ? text" in card.html
    assert write_card(card, tmp_path / "card.md").read_text(encoding="utf-8") == card.markdown
