"""The output folder is safe (SPEC section 5): refusals before any kernel starts, the lock,
the manifest, atomic writes, and --dry-run. No kernel runs in this file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retention_utils.batch.cli import app
from retention_utils.batch.outdir import (
    LOCK,
    MANIFEST,
    Manifest,
    OutputFolderError,
    atomic_write,
    check_foreign_files,
    locked,
)

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"


def invoke(*args: str):
    return CliRunner().invoke(app, ["run", *args])


def test_an_out_folder_holding_the_notebook_is_refused_and_nothing_is_deleted(tmp_path):
    folder = tmp_path / "mynb"
    folder.mkdir()
    notebook = folder / "my_report.ipynb"
    shutil.copy(FIXTURES / "ok.ipynb", notebook)
    before = notebook.read_bytes()
    result = invoke(str(notebook), "--out", str(folder))
    assert result.exit_code == 2, result.output
    assert f"--out {folder} holds an input of this run ({notebook})" in result.output
    assert notebook.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["my_report.ipynb"]


def test_an_out_folder_holding_the_data_file_is_refused(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,order_date,amount\na,2024-01-01,1\n")
    result = invoke(str(FIXTURES / "ok.ipynb"), "--data", str(orders), "--out", str(tmp_path))
    assert result.exit_code == 2
    assert f"holds an input of this run ({orders})" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv"]


@pytest.mark.parametrize("name", ["index", "summary", "Index"])
def test_report_names_of_the_runners_own_files_are_refused(tmp_path, name):
    config = tmp_path / "runs.yaml"
    config.write_text(f"runs:\n  - notebook: {FIXTURES / 'ok.ipynb'}\n    name: {name}\n")
    out = tmp_path / "out"
    result = invoke("--config", str(config), "--out", str(out))
    assert result.exit_code == 2
    assert f"A report may not be named {name!r}: the runner writes its own" in result.output
    assert not out.exists()


def test_a_second_run_into_a_locked_folder_exits_2_naming_the_first(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    holder = {"pid": os.getpid(), "host": os.uname().nodename, "started": "2026-11-30T12:00:00"}
    (out / LOCK).write_text(json.dumps(holder))
    result = invoke(str(FIXTURES / "ok.ipynb"), "--out", str(out))
    assert result.exit_code == 2
    assert (
        f"Another run is writing into {out} (process {os.getpid()} on {holder['host']}, "
        "started 2026-11-30T12:00:00)"
    ) in result.output
    assert sorted(p.name for p in out.iterdir()) == [LOCK]  # nothing written, lock kept


def test_a_lock_left_by_a_dead_process_is_taken_over_and_released(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    lock = tmp_path / LOCK
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename,
                                "started": "then"}))  # fmt: skip
    with locked(tmp_path):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
        with pytest.raises(OutputFolderError, match=f"process {os.getpid()}"), locked(tmp_path):
            pass  # a second holder in the same folder is refused
        assert lock.exists()  # the refused attempt did not remove the holder's lock
    assert not lock.exists()


def test_an_out_that_cannot_be_created_exits_2_naming_the_path(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "reports"
    result = invoke(str(FIXTURES / "ok.ipynb"), "--out", str(out))
    assert result.exit_code == 2
    assert f"Cannot write into the output folder {out}" in result.output
    assert "Traceback" not in result.output


def test_files_the_runner_did_not_write_are_never_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "ok.html"
    mine.write_text("<p>my own page</p>")
    result = invoke(str(FIXTURES / "ok.ipynb"), "--out", str(out))
    assert result.exit_code == 2
    assert "already holds files this run would replace that retention-report did not " in (
        result.output
    )
    assert "ok.html" in result.output
    assert mine.read_text() == "<p>my own page</p>"
    assert not (out / LOCK).exists()  # released on refusal


def test_manifest_claims_lists_earlier_reports_and_unknown_pages(tmp_path):
    (tmp_path / "old.html").write_text("x")
    (tmp_path / "stranger.html").write_text("x")
    (tmp_path / "kept.html").write_text("x")
    manifest = Manifest.read(tmp_path)
    manifest.claim(["old", "kept"], run="run-1", titles={"old": "Old report"})
    manifest.write()
    again = Manifest.read(tmp_path)
    check_foreign_files(again, ["old", "kept"])  # its own files: no refusal
    with pytest.raises(OutputFolderError, match="stranger.html"):
        check_foreign_files(again, ["stranger"])
    again.claim(["kept"], run="run-2", titles={})
    earlier = again.earlier(finished=["kept"])
    assert earlier == [
        {"name": "old", "title": "Old report", "html": "old.html", "run": "run-1"},
        {"name": "stranger", "title": "stranger", "html": "stranger.html", "run": None},
    ]
    assert json.loads((tmp_path / MANIFEST).read_text())["reports"]["old"]["files"] == [
        "old.ipynb",
        "old.html",
        "logs/old.log",
        "old_files",
    ]


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")
    atomic_write(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    orders = tmp_path / "data" / "orders.csv"
    orders.parent.mkdir()
    orders.write_text(
        "customer_id,order_date,amount,channel\n"
        "007,2024-01-01,10,email\n008,2024-01-02,20,web\n009,2024-01-03,30,email\n"
    )
    out = tmp_path / "out"
    result = invoke(
        str(FIXTURES / "ok.ipynb"),
        "--data", str(orders),
        "--segment-by", "channel",
        "--min-customers", "2",
        "-p", "n_rows=5",
        "--out", str(out),
        "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not out.exists()
    lines = result.output.splitlines()
    assert lines[0] == f"Dry run: nothing runs and nothing is written. Output folder: {out}"
    assert lines[1] == "2 reports planned:"
    assert "  ok__channel-email  (" in result.output
    assert (
        "    writes: ok__channel-email.ipynb, ok__channel-email.html, "
        "logs/ok__channel-email.log, ok__channel-email_files"
    ) in lines
    assert "    transactions = segment_data/source_1/segment_001.parquet" in lines
    assert "    n_rows = 5" in lines
    assert (
        "  skipped web: 1 customer, fewer than the minimum of 2 for a report of its own."
    ) in lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_fan_out_reads_a_european_export_with_its_reading_parameters(tmp_path):
    # The split loads the file once with the report's reading parameters (decimal=","), and
    # the segment reports read typed Parquet files, so their reading parameters are reset.
    data = Path(__file__).parents[1] / "data" / "sample" / "orders_pl.csv"
    result = invoke(
        "cohort",
        "--data", str(data),
        "-p", "customer_col=klient", "-p", "date_col=data", "-p", "amount_col=kwota",
        "-p", "order_col=zamówienie", "-p", "decimal=,", "-p", "dayfirst=true",
        "--segment-by", "miasto",
        "--min-customers", "5",
        "--out", str(tmp_path / "out"),
        "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "    segment_value = Łódź" in result.output
    assert "    decimal = (not set)" in result.output
    assert "    transactions = segment_data/source_1/" in result.output
