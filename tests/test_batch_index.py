"""The index page and summary.json, rendered from results (no kernel runs here)."""

from __future__ import annotations

import json

from bs4 import BeautifulSoup

from retention_utils.batch.export import unsafe_markup
from retention_utils.batch.index import comparison, render_index, summary, write_index
from retention_utils.batch.models import ReportResult
from retention_utils.record import format_value

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def figure(name: str, value, unit=None, **extra) -> dict:
    """A headline payload as ``record()`` writes it to summary.json."""
    payload = {"name": name, "label": extra.pop("label", name.title()), "value": value}
    payload.update(unit=unit, text=format_value(value, unit), low=None, high=None, note=None)
    return {**payload, **extra}


def result(name: str, status: str = "ok", segment=None, *figures: dict, **extra) -> ReportResult:
    return ReportResult(
        name=name,
        title=name,
        notebook=f"/nb/{name.split('__')[0]}.ipynb",
        parameters={},
        status=status,
        segment=list(segment) if segment else None,
        html=f"{name}.html",
        headlines=list(figures),
        **extra,
    )


def eighty_segments() -> tuple[list[ReportResult], dict]:
    values = [f"Land {i:02d}" for i in range(79)] + [SCRIPT]
    results = [
        result("cohort", "ok", None, figure("customers", 4000)),
        result("clv", "ok", None, figure("mean_clv", 12.0, "GBP", label="Mean_Clv")),
    ]
    for i, value in enumerate(values):
        slug = f"Country-{i}"
        segment = ("Country", value)
        results.append(result(f"cohort__{slug}", "ok", segment, figure("customers", i)))
        status = "failed" if value == SCRIPT else "ok"
        mean = figure("mean_clv", float(i), "GBP", label="Mean_Clv")
        results.append(result(f"clv__{slug}", status, segment, mean))
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
    assert (first["segment"], first["customers"]) == ("All customers", 4000)
    assert [f["text"] for f in first["figures"]] == ["4,000", "12.00 GBP"]
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
    assert soup.find("table", class_="segment-reports") is None
    card = soup.find("article", id="report-cohort")
    assert card.find("h3").find("a")["href"] == "cohort.html"
    assert card.find(class_="ru-tiles") is None  # nothing recorded, no empty grid


def tile_texts(tile) -> dict[str, str]:
    parts = {"label": "ru-tile-label", "value": "ru-tile-value", "interval": "ru-tile-interval",
             "note": "ru-tile-note"}  # fmt: skip
    found = {key: tile.find(class_=css) for key, css in parts.items()}
    return {key: " ".join(el.get_text(" ").split()) for key, el in found.items() if el}


def dashboard() -> BeautifulSoup:
    cohort = result(
        "cohort",
        "caution",
        None,
        figure("nrr_last", 97.5, "%", label="Net revenue retention"),
        figure("customers", 9, label="Customers"),
        figure(
            "retention_strict_last",
            100.0,
            "%",
            label="Retention rate (strict), 2011-12",
            note="warm-up period: its starting base misses earlier customers",
        ),
        figure(
            "simple_clv",
            153166.96,
            "GBP",
            label="Simple CLV",
            note="9 customers: too few for a stable figure",
        ),
        figure("revenue", None, "GBP", label="Net revenue"),
        cautions=["Only 9 customers: every rate is imprecise.", f"Segment {SCRIPT} is empty."],
        duration_s=12.25,
    )
    clv = result(
        "clv",
        "failed",
        None,
        figure("customers", 60, label=f"Customers {SCRIPT}"),
        figure("bgnbd_r", 0.93, label="BG/NBD r"),
        cause=f"Too few repeat buyers (3) to fit {SCRIPT}.",
        error_kind="cell error",
        error="ValueError: too few",
    )
    satisfaction = result(
        "satisfaction",
        "ok",
        None,
        figure("nps", 38.144, "points", label="NPS", low=35.3, high=41.0, note=IMG),
    )
    content = summary([cohort, clv, satisfaction], wall_time_s=2.0)
    page = render_index(content)
    assert unsafe_markup(page) == []
    return BeautifulSoup(page, "html.parser")


def test_each_report_has_a_card_with_status_cautions_tiles_and_link():
    soup = dashboard()
    cards = soup.find_all("article", class_="report-card")
    assert [c["id"] for c in cards] == ["report-cohort", "report-clv", "report-satisfaction"]
    cohort = cards[0]
    assert cohort.find("span", class_="status").get_text() == "caution"
    assert cohort.find("h3").find("a")["href"] == "cohort.html"
    assert "12.2 s" in cohort.find(class_="card-meta").get_text()
    assert [li.get_text() for li in cohort.find("ul", class_="cautions").find_all("li")] == [
        "Only 9 customers: every rate is imprecise.",
        f"Segment {SCRIPT} is empty.",
    ]
    # the tiles of the cohort summary block, in its order (not the recorded order)
    tiles = [tile_texts(t) for t in cohort.find_all("div", class_="ru-tile")]
    assert tiles == [
        {"label": "Customers", "value": "9"},
        {"label": "Net revenue", "value": "–", "note": "Not available for this data."},
        {
            "label": "Retention rate (strict), 2011-12",
            "value": "100.0 %",
            "note": "warm-up period: its starting base misses earlier customers",
        },
        {
            "label": "Simple CLV",
            "value": "153,166.96 GBP",
            "note": "9 customers: too few for a stable figure",
        },
        {"label": "Net revenue retention", "value": "97.5 %"},
    ]


def test_a_figure_with_an_interval_shows_it_and_notes_stay_text():
    soup = dashboard()
    (tile,) = soup.find("article", id="report-satisfaction").find_all("div", class_="ru-tile")
    assert tile_texts(tile) == {
        "label": "NPS",
        "value": "38.1 points",
        "interval": "interval 35.3 to 41.0 points",
        "note": IMG,
    }
    assert soup.find("img") is None


def test_a_failed_card_states_its_cause_and_hides_model_parameters():
    card = dashboard().find("article", id="report-clv")
    assert card.find("span", class_="status").get_text() == "failed"
    error = card.find("p", class_="error")
    assert error.get_text() == f"cell error: Too few repeat buyers (3) to fit {SCRIPT}."
    assert error.find("a")["href"] == "clv.html#report-error"
    assert "Figures computed before the report stopped" in card.get_text()
    tiles = [tile_texts(t) for t in card.find_all("div", class_="ru-tile")]
    assert tiles == [{"label": f"Customers {SCRIPT}", "value": "60"}]  # no "BG/NBD r" tile


def test_comparison_cells_carry_the_figures_note():
    base = figure("simple_clv", 50.0, "GBP", label="Simple CLV")
    small = figure("simple_clv", 153166.96, "GBP", label="Simple CLV", note="9 customers")
    segments = {
        "column": "Country",
        "min_customers": 1,
        "all": {"customers": 40, "rows": 400},
        "sizes": {"UK": {"customers": 31, "rows": 300}, SCRIPT: {"customers": 9, "rows": 90}},
        "skipped": [],
    }
    results = [
        result("cohort", "ok", None, base),
        result("cohort__Country-UK", "ok", ("Country", "UK"), base),
        result("cohort__Country-x", "caution", ("Country", SCRIPT), small, cautions=["Small."]),
    ]
    soup = BeautifulSoup(
        render_index(summary(results, wall_time_s=1.0, segments=segments)), "html.parser"
    )
    rows = soup.find("table", class_="compare").find("tbody").find_all("tr")
    cells = [tr.find_all("td")[-1] for tr in rows]
    assert [c.get_text(" ", strip=True) for c in cells] == [
        "50.00 GBP",
        "50.00 GBP",
        "153,166.96 GBP 9 customers",
    ]
    assert cells[2].find(class_="fig-note").get_text() == "9 customers"
    # one card (all customers); the segment reports are rows below the comparison
    assert [c["id"] for c in soup.find_all("article")] == ["report-cohort"]
    listed = soup.find("table", class_="segment-reports").find("tbody").find_all("tr")
    assert [tr["id"] for tr in listed] == ["report-cohort__Country-UK", "report-cohort__Country-x"]
    assert listed[1].find_all("td")[1].get_text() == SCRIPT
    assert listed[1].find("ul", class_="cautions").get_text() == "Small."
