"""Running batches end to end on the small fixture notebooks (kernels start: marked slow)."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from browser import Chromium, check_pages, check_report_folder, find_chromium
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from retention_utils.batch import runner
from retention_utils.batch.cli import app
from retention_utils.batch.export import unsafe_markup
from retention_utils.batch.plan import plan_runs
from retention_utils.record import read_headlines

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def write_orders(folder: Path) -> Path:
    path = folder / "orders.csv"
    path.write_text(
        "customer_id,order_date,amount,channel\n"
        "007,2024-01-01,10,email\n"
        "008,2024-01-02,20,web & social\n"
        "009,2024-01-03,30,email\n"
        "010,2024-01-04,40,\n"
    )
    return path


def kernel_view(executed: Path) -> dict:
    """The parameters as the kernel saw them: the fixture prints `SEEN {name: [value, type]}`."""
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            match = re.search(r"^SEEN (.*)$", output.get("text", ""), re.M)
            if match:
                return json.loads(match.group(1))
    raise AssertionError(f"no SEEN line in {executed}")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    orders = write_orders(folder)
    out = folder / "out"
    started = time.perf_counter()
    result = CliRunner().invoke(
        app,
        [
            "run",
            *(str(FIXTURES / f"{name}.ipynb") for name in ("ok", "fails", "dies", "hostile")),
            "--data", str(orders),
            "--segment-by", "channel",
            "--min-customers", "1",
            "-p", "n_rows=2",
            "-p", "observation_end=2024-12-31",
            "-p", "weights=[1, 2.5]",
            "-p", f"label={SCRIPT}",
            "--jobs", "2",
            "--out", str(out),
        ],
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    summary = json.loads((out / "summary.json").read_text())
    return {"result": result, "out": out, "summary": summary, "elapsed": elapsed}


def reports(batch) -> dict[str, dict]:
    return {r["name"]: r for r in batch["summary"]["reports"]}


def test_batch_exits_1_and_lists_every_report(batch):
    assert batch["result"].exit_code == 1, batch["result"].output
    assert list(reports(batch)) == [
        "ok",
        "ok__channel-email",
        "ok__channel-web-social",
        "fails",
        "dies",
        "hostile",
    ]
    assert batch["summary"]["counts"] == {
        "total": 6,
        "ok": 4,
        "caution": 0,
        "failed": 2,
        "interrupted": 0,
    }
    assert "4 of 6 reports ok, 0 caution, 2 failed." in batch["result"].output
    assert f"failed  fails: No repeat buyer in the data: {SCRIPT} cannot be fitted." in (
        batch["result"].output
    )


def test_failures_are_isolated_and_classified_from_exceptions(batch):
    found = reports(batch)
    assert found["fails"]["status"] == "failed"
    assert found["fails"]["error_kind"] == "cell error"
    assert found["fails"]["error"] == (
        f"ValueError: No repeat buyer in the data: {SCRIPT} cannot be fitted."
    )
    assert found["dies"]["status"] == "failed"
    assert found["dies"]["error_kind"] == "kernel died"
    # papermill's metadata would call the dead kernel's notebook a success:
    dead = nbformat.read(batch["out"] / "dies.ipynb", as_version=4)
    assert not dead.metadata.papermill.get("exception")
    for name in ("ok", "ok__channel-email", "hostile"):
        assert found[name]["status"] == "ok"
        assert found[name]["error"] is None


def test_failed_reports_are_exported_with_their_error(batch):
    out = batch["out"]
    for name, kind in (("fails", "cell error"), ("dies", "kernel died")):
        soup = BeautifulSoup((out / f"{name}.html").read_text(), "html.parser")
        banner = soup.find(id="report-error")
        assert f"This report failed ({kind})." in banner.get_text()
        assert soup.find(id="failed-cell") is not None
    fails = BeautifulSoup((out / "fails.html").read_text(), "html.parser")
    assert "recorded" in fails.get_text()  # output before the failing cell is kept
    # a recorded headline figure is not printed mid-page (the summary block shows figures)
    assert "Customers: 3" not in fails.get_text()
    assert "never reached" not in fails.get_text()
    dies = BeautifulSoup((out / "dies.html").read_text(), "html.parser")
    assert "before the crash" in dies.get_text()  # outputs up to the dead kernel are kept
    assert "never reached" not in dies.get_text()


def test_headlines_come_from_the_recording_helper(batch):
    found = reports(batch)
    rows = {name: {h["name"]: h["value"] for h in found[name]["headlines"]} for name in found}
    assert rows["ok"] == {"rows": 4, "share": 50.0}  # all customers
    assert rows["ok__channel-email"]["rows"] == 2
    assert rows["ok__channel-web-social"]["rows"] == 1
    assert rows["fails"] == {"customers": 3}  # recorded before the failure
    executed = nbformat.read(batch["out"] / "ok.ipynb", as_version=4)
    assert read_headlines(executed) == found["ok"]["headlines"]


def test_kernel_receives_typed_values_and_absolute_paths(batch):
    seen = kernel_view(batch["out"] / "ok__channel-web-social.ipynb")
    out = batch["out"]
    assert seen["n_rows"] == [2, "int"]
    assert seen["observation_end"] == ["2024-12-31", "str"]
    assert seen["weights"] == [[1, 2.5], "list"]
    assert seen["label"] == [SCRIPT, "str"]
    assert seen["segment_col"] == ["channel", "str"]
    assert seen["segment_value"] == ["web & social", "str"]
    # a segment report reads its own split file, with the canonical column names
    assert seen["transactions"][0] == str(
        out.resolve() / "segment_data" / "source_1" / "segment_002.parquet"
    )
    assert seen["output_dir"][0] == str(out.resolve() / "ok__channel-web-social_files")


def test_output_dir_holds_each_reports_tables(batch):
    out = batch["out"]
    assert len((out / "ok_files" / "customers.csv").read_text().splitlines()) == 5
    assert len((out / "ok__channel-email_files" / "customers.csv").read_text().splitlines()) == 3


def test_index_has_one_card_per_report_and_links_errors(batch):
    out = batch["out"]
    soup = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    cards = soup.select("article.report-card")
    assert [card["id"] for card in cards] == [
        "report-ok",
        "report-fails",
        "report-dies",
        "report-hostile",
    ]
    card_links = [card.find("h3").find("a")["href"] for card in cards]
    assert card_links == [
        "ok.html",
        "fails.html#report-error",
        "dies.html#report-error",
        "hostile.html",
    ]
    # the segment reports are rows below the comparison table
    rows = soup.select("table.segment-reports tbody tr")
    row_links = [row.find("a")["href"] for row in rows]
    assert row_links == ["ok__channel-email.html", "ok__channel-web-social.html"]
    fails_card = " ".join(cards[1].get_text(" ").split())
    assert "failed" in fails_card and "cell error" in fails_card
    assert SCRIPT in fails_card  # the error text is shown, as text
    assert "Customers 3" in fails_card  # a tile recorded before the failure
    assert "n_rows = 2" in " ".join(cards[0].get_text(" ").split())
    assert unsafe_markup((out / "index.html").read_text()) == []
    for link in card_links + row_links:
        assert (out / link.split("#")[0]).is_file()


def test_hostile_report_is_inert_and_shows_the_data_as_text(batch):
    html = (batch["out"] / "hostile.html").read_text()
    assert unsafe_markup(html) == []
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find_all("script") == []
    text = soup.find("main").get_text(" ")
    assert SCRIPT in text and IMG in text
    assert [img["src"][:22] for img in soup.find_all("img")] == ["data:image/png;base64,"]


def test_a_cell_timeout_fails_the_report(tmp_path):
    # Every cell before the slow one is quick (no pandas or matplotlib import), and the slow
    # one sleeps 60 times the timeout: a loaded machine cannot make another cell time out,
    # nor the slow one finish in time.
    orders = write_orders(tmp_path)
    started = time.perf_counter()
    result = CliRunner().invoke(
        app,
        [
            "run", str(FIXTURES / "slow.ipynb"),
            "--data", str(orders),
            "-p", "sleep_seconds=300",
            "-p", "segment_col=customer_id",
            "-p", "segment_value=007",
            "--timeout", "5",
            "--out", str(tmp_path / "out"),
        ],
    )  # fmt: skip
    assert time.perf_counter() - started < 300  # the sleep was cut short, not waited out
    assert result.exit_code == 1
    (report,) = json.loads((tmp_path / "out" / "summary.json").read_text())["reports"]
    assert report["name"] == "slow__customer_id-007"
    assert report["status"] == "failed"
    assert report["error_kind"] == "cell timeout"
    assert report["error"] == "A cell ran longer than the per-cell timeout of 5 s."
    executed = tmp_path / "out" / "slow__customer_id-007.ipynb"
    nb = nbformat.read(executed, as_version=4)
    assert nb.cells[report["failed_cell"]].source == "time.sleep(sleep_seconds)"
    # what ran before the slow cell is kept: its headline figure and its printed output
    assert {h["name"]: h["value"] for h in report["headlines"]}["rows"] == 1
    assert kernel_view(executed)["segment_value"] == ["007", "str"]


@pytest.mark.browser
def test_reports_render_in_headless_chromium(batch, tmp_path):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    out = tmp_path / "copy"
    shutil.copytree(batch["out"], out)
    checks = {c.path.name: c for c in check_report_folder(out)}
    assert list(checks) == [  # in the order of the index: cards, then segment reports
        "index.html",
        "ok.html",
        "fails.html",
        "dies.html",
        "hostile.html",
        "ok__channel-email.html",
        "ok__channel-web-social.html",
    ]
    for check in checks.values():
        assert check.problems() == [], check.path.name
        assert check.screenshot.stat().st_size > 10_000
    assert checks["ok.html"].images == 1
    assert checks["hostile.html"].images == 1


@pytest.mark.browser
def test_browser_check_catches_scripts_broken_images_and_network(tmp_path):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><body><img src='missing.png'><script>undefined_function()</script>"
        "<img src='https://example.com/x.png'></body></html>"
    )
    (check,) = check_pages([bad], tmp_path / "shots")
    assert check.broken_images == [
        "file://" + str(tmp_path / "missing.png"),
        "https://example.com/x.png",
    ]
    assert any("undefined_function is not defined" in e for e in check.errors)
    assert check.requests == ["https://example.com/x.png"]
    assert (tmp_path / "shots" / "bad.png").exists()


@pytest.mark.browser
def test_browser_leaves_no_profile_or_processes_behind(tmp_path):
    if find_chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    page = tmp_path / "page.html"
    page.write_text("<html><body><p>hello</p></body></html>")
    for _ in range(3):  # the profile race showed up only now and then
        with Chromium() as browser:
            profile, pid = browser._profile, browser._process.pid
            assert browser.check(page).ok
        assert not profile.exists()
        deadline = time.monotonic() + 10  # SIGKILL is delivered asynchronously
        while _live_processes_in_group(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _live_processes_in_group(pid) == []


def _live_processes_in_group(pgid: int) -> list[int]:
    """Processes of a process group that still run (zombies awaiting a reaper do not count)."""
    live = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            live.append(int(stat.parent.name))
    return live


# --- linking the satisfaction report to the CLV report's table ----------------------------


def _notebook(path: Path, parameters: str, body: str) -> Path:
    cell = nbformat.v4.new_code_cell(parameters)
    cell.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(f"# {path.stem}"),
            cell,
            nbformat.v4.new_code_cell(body),
        ]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["language_info"] = {"name": "python"}
    nbformat.write(notebook, path)
    return path


def _linked_pair(folder: Path, *, producer_fails: bool) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    producer = _notebook(
        folder / "clv.ipynb",
        'output_dir: str = "files"  # where the table goes',
        "import pathlib, time\n"
        + ("raise RuntimeError('the CLV report broke')\n" if producer_fails else "")
        + "time.sleep(2)\n"
        "pathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)\n"
        "(pathlib.Path(output_dir) / 'clv_customers.parquet').write_text('table')",
    )
    follower = _notebook(
        folder / "follower.ipynb",
        'clv_customers: str = ""  # the CLV table',
        "import pathlib\n"
        "print('LINK', repr(clv_customers), bool(clv_customers) and "
        "pathlib.Path(clv_customers).read_text())",
    )
    return producer, follower


@pytest.mark.parametrize("producer_fails", [False, True])
def test_linked_report_waits_for_the_clv_table_or_runs_without_it(tmp_path, producer_fails):
    producer, follower = _linked_pair(tmp_path / "nb", producer_fails=producer_fails)
    out = tmp_path / "out"
    runs = plan_runs([str(follower), str(producer)], out=out, link_clv=True)
    assert runs[0].after == ("clv", "clv_customers")
    assert dict((r.name, r.text) for r in runs[0].rows)["clv_customers"] == (
        "clv_files/clv_customers.parquet"
    )
    results = runner.run_reports(runs, out, jobs=2, progress=False)  # follower listed first
    statuses = {r.name: r.status for r in results}
    assert statuses == {"follower": "ok", "clv": "failed" if producer_fails else "ok"}
    executed = nbformat.read(out / "follower.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    if producer_fails:
        assert "LINK '' False" in printed
        page = (out / "follower.html").read_text()
        assert "not available: that report failed" in page
    else:
        assert "clv_files/clv_customers.parquet' table" in printed


def test_without_link_the_reports_are_independent(tmp_path):
    producer, follower = _linked_pair(tmp_path / "nb", producer_fails=False)
    runs = plan_runs([str(follower), str(producer)], out=tmp_path / "out")
    assert [r.after for r in runs] == [None, None]
    assert "clv_customers" not in runs[0].parameters


# --- statuses, cautions, earlier reports, interruption, the comparison table --------------


def test_segments_are_compared_in_one_table_and_skipped_ones_listed(batch):
    out = batch["out"]
    segments = batch["summary"]["segments"]
    assert segments["sizes"] == {
        "email": {"customers": 2, "rows": 2},
        "web & social": {"customers": 1, "rows": 1},
    }
    (skipped,) = segments["skipped"]
    assert (skipped["segment"], skipped["customers"]) == (None, 1)
    assert skipped["reason"].startswith("1 customer without a channel value")
    soup = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    table = soup.find("table", class_="compare")
    header = [th.get_text(" ", strip=True) for th in table.find("thead").find_all("th")]
    assert header == ["channel", "Customers", "Rows", "ok", "ok: Rows", "ok: Rate"]
    rows = [[td.get_text(" ", strip=True) for td in tr.find_all("td")] for tr in
            table.find("tbody").find_all("tr")]  # fmt: skip
    assert rows == [
        ["All customers", "4", "4", "ok", "4", "50.0 %"],
        ["email", "2", "2", "ok", "2", "50.0 %"],
        ["web & social", "1", "1", "ok", "1", "50.0 %"],
    ]
    links = [a["href"] for a in table.find_all("a")]
    assert links == ["ok.html", "ok__channel-email.html", "ok__channel-web-social.html"]
    skipped_row = soup.find("table", class_="skipped").find("tbody").get_text(" ", strip=True)
    assert skipped_row.startswith("(no value) 1 1 skipped 1 customer without a channel value")


def test_a_failed_report_states_its_cause_first_and_folds_the_traceback(batch):
    found = reports(batch)
    assert found["fails"]["cause"] == (f"No repeat buyer in the data: {SCRIPT} cannot be fitted.")
    soup = BeautifulSoup((batch["out"] / "fails.html").read_text(), "html.parser")
    banner = soup.find(id="report-error")
    assert banner.find("p", class_="report-cause").get_text() == found["fails"]["cause"]
    details = banner.find("details")
    assert details.find("summary").get_text() == "Error details"
    assert "Traceback (most recent call last)" in details.get_text()
    assert "Cell In[" in details.get_text()
    banner.decompose()
    assert "Traceback" not in soup.get_text()  # only folded, under the cause


def test_cautions_give_status_caution_and_earlier_reports_are_listed(tmp_path):
    out = tmp_path / "out"
    first = CliRunner().invoke(
        app,
        ["run", str(FIXTURES / "ok.ipynb"), str(FIXTURES / "cautious.ipynb"), "--out", str(out)],
    )
    assert first.exit_code == 0, first.output  # a caution is not a failure
    summary = json.loads((out / "summary.json").read_text())
    cautious = {r["name"]: r for r in summary["reports"]}["cautious"]
    assert cautious["status"] == "caution"
    assert cautious["cautions"] == [
        "Only 12 customers: the retention rates are imprecise.",
        "The holdout was shortened to 30 days (a third of the history).",
    ]
    assert summary["counts"]["caution"] == 1
    assert "caution  cautious" in first.output
    assert "caution: Only 12 customers: the retention rates are imprecise." in first.output
    soup = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    card = soup.find("article", id="report-cautious")
    assert card.find("span", class_="status").get_text() == "caution"
    assert [li.get_text() for li in card.find("ul", class_="cautions").find_all("li")] == (
        cautious["cautions"]
    )
    page = BeautifulSoup((out / "cautious.html").read_text(), "html.parser")
    assert "2 cautions:" in page.find(id="report-cautions").get_text()

    second = CliRunner().invoke(app, ["run", str(FIXTURES / "ok.ipynb"), "--out", str(out)])
    assert second.exit_code == 0, second.output
    summary = json.loads((out / "summary.json").read_text())
    assert [r["name"] for r in summary["reports"]] == ["ok"]
    (earlier,) = summary["earlier_reports"]
    assert (earlier["name"], earlier["html"]) == ("cautious", "cautious.html")
    soup = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    assert [a["href"] for a in soup.select("article.report-card h3 a")] == ["ok.html"]
    assert "cautious" not in soup.find("div", class_="cards").get_text()
    earlier_table = soup.find("table", class_="earlier").get_text(" ", strip=True)
    assert "Report with cautions" in earlier_table and "earlier run" in earlier_table


def test_an_interrupted_run_rewrites_index_and_summary_and_exits_130(tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = []
    real_wait = runner.wait

    def wait_then_interrupt(futures, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C while the second report runs
            raise KeyboardInterrupt
        return real_wait(futures, **kwargs)

    monkeypatch.setattr(runner, "wait", wait_then_interrupt)
    result = CliRunner().invoke(
        app,
        ["run", str(FIXTURES / "ok.ipynb"), str(FIXTURES / "cautious.ipynb"), "--out", str(out)],
    )
    assert result.exit_code == 130, result.output
    assert "Interrupted: 1 of 2 reports finished; the others are marked interrupted in " in (
        result.output
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert [(r["name"], r["status"]) for r in summary["reports"]] == [
        ("ok", "ok"),
        ("cautious", "interrupted"),
    ]
    assert summary["reports"][1]["cause"] == (
        "The batch was interrupted (Ctrl-C) before this report finished."
    )
    soup = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    assert "This run was interrupted." in soup.find(id="interrupted").get_text()
    assert not (out / ".retention-report.lock").exists()
