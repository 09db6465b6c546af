"""The real report pack end to end: `demo` on the embedded data (the session fixture `demo`
of conftest.py), and a CLV run that must fail."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil

import pytest
from browser import check_report_folder, find_chromium
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from retention_utils.batch.cli import app
from retention_utils.batch.export import unsafe_markup

pytestmark = pytest.mark.slow

if importlib.util.find_spec("retention_utils.io") is None:  # the loaders are not merged yet
    pytest.skip("retention_utils.io is missing: the notebooks cannot run", allow_module_level=True)

PACK = ("cohort", "clv", "satisfaction")


def test_demo_pack_runs_clean(demo):
    failures = [(r["name"], r["error"]) for r in demo["summary"]["reports"] if r["error"]]
    assert failures == []
    assert demo["result"].exit_code == 0, demo["result"].output
    assert [r["name"] for r in demo["summary"]["reports"]] == list(PACK)
    counts = demo["summary"]["counts"]
    assert (counts["total"], counts["failed"], counts["interrupted"]) == (3, 0, 0)
    assert counts["ok"] + counts["caution"] == 3


def test_index_links_three_readable_reports(demo):
    out = demo["out"]
    soup = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    links = [card.find("h3").find("a")["href"] for card in soup.select("article.report-card")]
    assert links == [f"{name}.html" for name in PACK]
    for report in demo["summary"]["reports"]:
        html = (out / report["html"]).read_text()
        assert unsafe_markup(html) == []
        page = BeautifulSoup(html, "html.parser")
        assert page.title.get_text() == report["title"]
        assert page.find("table", class_="report-parameters") is not None
        images = page.find_all("img")
        assert images and all(img["src"].startswith("data:image/") for img in images)
        assert not page.select(".jp-CodeCell .jp-InputArea")  # code hidden
        assert report["headlines"], f"{report['name']} recorded no headline figure"
        assert all(h["text"] for h in report["headlines"])


def test_demo_money_figures_carry_the_demo_currency(demo):
    headlines = {h["name"]: h for r in demo["summary"]["reports"] for h in r["headlines"]}
    assert headlines["revenue"]["unit"] == "EUR"
    index = (demo["out"] / "index.html").read_text()
    assert "EUR" in index


def test_clv_tables_land_next_to_the_report(demo):
    files = demo["out"] / "clv_files"
    assert files.is_dir() and any(files.iterdir())


@pytest.mark.browser
def test_demo_pack_in_headless_chromium(demo, tmp_path):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    out = tmp_path / "copy"
    shutil.copytree(demo["out"], out)
    checks = check_report_folder(out)
    assert [c.path.name for c in checks] == ["index.html"] + [f"{n}.html" for n in PACK]
    for check in checks:
        assert check.problems() == [], check.path.name
    assert all(c.images > 0 for c in checks[1:])


def test_clv_on_one_time_buyers_fails_alone_and_is_exported(tmp_path):
    data = tmp_path / "one_time.csv"
    lines = ["customer_id,order_date,amount,order_id"]
    lines += [
        f"C{i:03d},2024-{1 + i % 12:02d}-{1 + i % 28:02d},{10 + i}.50,O{i}" for i in range(60)
    ]
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", "clv", "cohort", "--data", str(data), "--out", str(out)]
    )
    assert result.exit_code == 1, result.output
    reports = {r["name"]: r for r in json.loads((out / "summary.json").read_text())["reports"]}
    # 60 one-time buyers within a year: the cohort report runs, and says why it has no
    # retention headline (every period is warm-up) instead of ending "ok"
    assert reports["cohort"]["status"] == "caution", reports["cohort"]["error"]
    assert any("No retention headline" in c for c in reports["cohort"]["cautions"])
    clv = reports["clv"]
    assert clv["status"] == "failed"
    assert clv["error_kind"] == "cell error"
    assert "repeat" in clv["error"].lower()
    page = BeautifulSoup((out / "clv.html").read_text(), "html.parser")
    assert "This report failed (cell error)." in page.find(id="report-error").get_text()
    index = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    assert index.find("a", href="clv.html#report-error") is not None


def test_demo_reports_show_no_warnings_or_errors(demo):
    """A reader should never see a warning box: every stderr output is a defect to fix."""
    import nbformat

    for report in demo["summary"]["reports"]:
        notebook = nbformat.read(demo["out"] / f"{report['name']}.ipynb", as_version=4)
        stderr = [
            output.get("text", "")[:200]
            for cell in notebook.cells
            if cell.cell_type == "code"
            for output in cell.get("outputs", [])
            if output.get("output_type") == "error"
            or (output.get("output_type") == "stream" and output.get("name") == "stderr")
        ]
        assert stderr == [], report["name"]


def test_demo_satisfaction_report_uses_the_clv_table(demo):
    import nbformat

    notebook = nbformat.read(demo["out"] / "satisfaction.ipynb", as_version=4)
    shown = "".join(
        output.get("text", "") or output.get("data", {}).get("text/plain", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )
    assert "surveyed customers found in the CLV table" in shown
    assert "No CLV customer table was given" not in shown
    satisfaction = next(r for r in demo["summary"]["reports"] if r["name"] == "satisfaction")
    headlines = {h["name"]: h for h in satisfaction["headlines"]}
    promoters, detractors = headlines["clv_promoters"], headlines["clv_detractors"]
    assert promoters["unit"] == detractors["unit"] == "EUR"
    # the demo's satisfaction depends on dropout propensity, so promoters are worth more
    assert promoters["value"] > detractors["value"] > 0
    assert re.fullmatch(r"n=\d[\d,]* customers", promoters["note"])  # a count, not 918.0
    assert promoters["low"] < promoters["value"] < promoters["high"]
    index = (demo["out"] / "index.html").read_text()
    assert "clv_files/clv_customers.parquet" in index
    assert str(demo["out"]) not in index  # the linked table is shown relative to the folder


def test_demo_clv_report_writes_counts_without_decimals(demo):
    """Customer and purchase counts read as whole numbers ("3,982", not "3,982.00")."""
    page = BeautifulSoup((demo["out"] / "clv.html").read_text(), "html.parser")
    whole = re.compile(r"\d{1,3}(,\d{3})*")
    counts = []
    for table in page.select("table.ru-table"):
        header = [th.get_text(strip=True) for th in table.select("thead th")]
        for row in table.select("tbody tr"):
            cells = [td.get_text(strip=True) for td in row.find_all("td")]
            if "seed formula" in header and cells[0] == "customers":
                counts += cells[1:]
            if "error_pct" in header:  # holdout totals: actual and predicted purchases
                counts += [cells[header.index("actual")], cells[header.index("predicted")]]
    assert len(counts) == 3 + 2 * 2
    assert [c for c in counts if not whole.fullmatch(c)] == []


def test_demo_clv_report_writes_money_to_the_cent(demo):
    """The CLV total with its interval reads in currency to the cent, like the tile."""
    page = BeautifulSoup((demo["out"] / "clv.html").read_text(), "html.parser")
    rows = [
        [td.get_text(strip=True) for td in row.find_all("td")]
        for row in page.select("table.ru-table tbody tr")
    ]
    totals = next(r for r in rows if r[0] == "CLV" and len(r) == 4)
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d\d", cell) for cell in totals[1:]), totals


def test_demo_reports_show_the_quality_table_without_row_numbers(demo):
    for name in PACK:
        page = BeautifulSoup((demo["out"] / f"{name}.html").read_text(), "html.parser")
        table = next(t for t in page.find_all("table") if "rows read" in t.get_text())
        header = [cell.get_text(strip=True) for cell in table.find("tr").find_all(["th", "td"])]
        assert header == ["check", "result"], name
