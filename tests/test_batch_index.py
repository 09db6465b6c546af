"""The index page and summary.json, rendered from results (no kernel runs here)."""

from __future__ import annotations

import json

from bs4 import BeautifulSoup

from retention_utils.batch.export import unsafe_markup
from retention_utils.batch.index import comparison, render_index, summary, write_index
from retention_utils.batch.models import ReportResult

SCRIPT = "<script>alert(1)</script>"


def result(name: str, status: str = "ok", segment=None, **headlines) -> ReportResult:
    return ReportResult(
        name=name,
        title=name,
        notebook=f"/nb/{name.split('__')[0]}.ipynb",
        parameters={},
        status=status,
        segment=list(segment) if segment else None,
        html=f"{name}.html",
        headlines=[{"name": k, "label": k.title(), "text": v} for k, v in headlines.items()],
    )


def eighty_segments() -> tuple[list[ReportResult], dict]:
    values = [f"Land {i:02d}" for i in range(79)] + [SCRIPT]
    results = [result("cohort", customers="4,000"), result("clv", mean_clv="12.00 GBP")]
    for i, value in enumerate(values):
        slug = f"Country-{i}"
        results.append(result(f"cohort__{slug}", segment=("Country", value), customers=f"{i}"))
        status = "failed" if value == SCRIPT else "ok"
        results.append(result(f"clv__{slug}", status, ("Country", value), mean_clv=f"{i}.00"))
    segments = {
        "column": "Country",
        "min_customers": 30,
        "all": {"customers": 4000, "rows": 90000},
        "sizes": {v: {"customers": 100 + i, "rows": 1000 + i} for i, v in enumerate(values)},
        "skipped": [
            {"segment": "Tiny <b>land</b>", "customers": 2, "rows": 9, "reason": "too small"}
        ],
    }
    return results, segments


def test_the_comparison_has_one_row_per_segment_with_headline_columns():
    results, segments = eighty_segments()
    table = comparison(summary(results, wall_time_s=1.0, segments=segments))
    assert table["kinds"] == ["cohort", "clv"]
    assert [(c["kind"], c["name"]) for c in table["columns"]] == [
        ("cohort", "customers"),
        ("clv", "mean_clv"),
    ]
    assert len(table["rows"]) == 81
    first, largest = table["rows"][:2]
    assert (first["segment"], first["customers"], first["figures"]) == (
        "All customers",
        4000,
        ["4,000", "12.00 GBP"],
    )
    assert (largest["segment"], largest["customers"]) == (SCRIPT, 179)  # largest first
    assert largest["reports"]["clv"]["status"] == "failed"
    assert largest["reports"]["clv"]["link"].endswith(".html#report-error")


def test_the_index_at_80_segments_is_one_compact_inert_table(tmp_path):
    results, segments = eighty_segments()
    index, summary_path = write_index(results, tmp_path, wall_time_s=3.0, segments=segments)
    page = index.read_text()
    assert unsafe_markup(page) == []
    assert "<script>alert" not in page
    soup = BeautifulSoup(page, "html.parser")
    assert soup.find_all("script") == []
    table = soup.find("table", class_="compare")
    assert table.find_parent("div")["class"] == ["scroll"]  # scrolls in its own box
    rows = table.find("tbody").find_all("tr")
    assert len(rows) == 81
    assert rows[1].find("td").get_text() == SCRIPT  # shown as text
    header = [th.get_text(" ", strip=True) for th in table.find("thead").find_all("th")]
    assert header == ["Country", "Customers", "Rows", "cohort", "clv", "cohort: Customers",
                      "clv: Mean_Clv"]  # fmt: skip
    skipped = soup.find("table", class_="skipped").get_text(" ", strip=True)
    assert "Tiny <b>land</b> 2 9 skipped too small" in skipped
    content = json.loads(summary_path.read_text())
    assert content["counts"] == {
        "total": 162,
        "ok": 161,
        "caution": 0,
        "failed": 1,
        "interrupted": 0,
    }
    assert content["segments"]["skipped"][0]["reason"] == "too small"


def test_an_index_without_segments_has_no_comparison():
    content = summary([result("cohort")], wall_time_s=1.0)
    assert comparison(content) is None
    soup = BeautifulSoup(render_index(content), "html.parser")
    assert soup.find("table", class_="compare") is None
    assert [a["href"] for a in soup.select("table.reports a")][:1] == ["cohort.html"]
