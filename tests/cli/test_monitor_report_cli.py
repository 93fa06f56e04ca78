"""`gongji monitor report --html` on both backends: the page written, bad options refused naming them."""

from __future__ import annotations

import re

from tests.cli.test_ops import refused, run
from tests.factories import snapshot
from tests.services.test_monitor_report_db import chart_data, period  # noqa: F401  (the fixture)


def test_the_command_writes_the_page(db_url, period, tmp_path):  # noqa: F811
    out = tmp_path / "monitor.html"
    done = run(db_url, "monitor", "report", "--from", "2024-03-01", "--to", "2024-03-31", "--region", "321000",
               "--html", str(out))
    assert done.exit_code == 0, done.output
    # March (tests/services/test_monitor_report_db.py): 4 hits, 795.00 at stake, 70.00 clawed back
    assert "4 hits, 795.00 yuan at stake, 70.00 yuan clawed back" in done.stdout
    page = out.read_text(encoding="utf-8")
    assert "795.00" in page and not re.search(r"<(script|link)[^>]+(src|href)=", page)
    assert chart_data(page)["status"]["values"][:3] == [95, 700, 70]


def test_bad_options_are_refused(engine, db_url, period, tmp_path):  # noqa: F811
    before = snapshot(engine)
    march = ("--from", "2024-03-01", "--to", "2024-03-31")
    missing = tmp_path / "no" / "monitor.html"
    refused(run(db_url, "monitor", "report", *march, "--region", "321000", "--html", str(missing)),
            f"--html {missing}: cannot write")
    assert not missing.parent.exists()
    out = str(tmp_path / "monitor.html")
    refused(run(db_url, "monitor", "report", "--from", "2024-02-30", "--to", "2024-03-31", "--region", "321000",
                "--html", out), "--from", "2024-02-30")
    refused(run(db_url, "monitor", "report", "--from", "2024-03-31", "--to", "2024-03-01", "--region", "321000",
                "--html", out), "--to", "2024-03-01")
    refused(run(db_url, "monitor", "report", *march, "--region", "999999", "--html", out), "--region", "999999")
    assert not (tmp_path / "monitor.html").exists()
    assert snapshot(engine) == before
