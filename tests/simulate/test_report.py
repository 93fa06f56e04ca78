"""The simulation page: one offline file with the charts' data and the tables of the run."""

import json
import re

from typer.testing import CliRunner

from gongji.cli import app
from gongji.simulate import report, tune
from gongji.simulate.population import save
from gongji.simulate.whatif import scenario, simulate
from tests.simulate.tiny import tiny_population


def _run(book):
    return simulate(tiny_population(), scenario("--a", "321000@2022-06-01", book),
                    scenario("--b", "321000@2024-06-01", book), book)


def _chart_data(page: str) -> dict:
    return json.loads(re.search(r"const data = (\{.*?\});\n", page).group(1))


def test_the_page_holds_the_run_and_needs_no_network(book):
    page = report.render(_run(book))
    # ECharts is embedded, not fetched: no script or stylesheet is loaded from anywhere
    assert "echarts.init" in page and "Apache Software Foundation" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)
    # 资金平移 of the four members (tests/simulate/test_whatif.py): credits 7,440.24 - 4,740.12 = 2,700.12 moved out
    # of accounts, 9,005.00 reimbursement added, 6,304.88 the difference
    assert "2,700.12" in page and "9,005.00" in page and "6,304.88" in page
    data = _chart_data(page)
    # the flows chart: outpatient reimbursement 0.00 under A, 9,005.00 under B
    outpatient = next(i for i, label in enumerate(data["flows"]["labels"]) if "普通门诊统筹支付" in label)
    assert (data["flows"]["a"][outpatient], data["flows"]["b"][outpatient]) == (0, 9005)
    # the histogram counts every member once: three in service, one retired
    assert (sum(data["net"]["in_service"]), sum(data["net"]["retired"])) == (3, 1)
    assert "frontier" not in data


def test_with_tuning_the_page_charts_the_frontier(book):
    result = _run(book)
    tuning = tune.tune(result.population, result.a.version, result.b.version, book, 900_500,
                       deductible_factors=[1], cap_factors=[1])
    data = _chart_data(report.render(result, tuning))
    # the budget of 9,005.00 is exactly what Yangzhou's 2024 ratios cost the four members (shift 0)
    assert data["frontier"]["budget"] == 9005
    assert data["frontier"]["points"] == [[9005, 25.0, True]]


def test_the_command_writes_the_page(book, tmp_path):
    save(tiny_population(), tmp_path / "pop")
    out = tmp_path / "sim.html"
    result = CliRunner().invoke(app, ["report", "simulate", str(tmp_path / "pop"), "--a", "321000@2022-06-01",
                                      "--b", "321000@2024-06-01", "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert "2,700.12" in out.read_text(encoding="utf-8")


def test_a_page_that_cannot_be_written_is_refused(tmp_path):
    save(tiny_population(), tmp_path / "pop")
    result = CliRunner().invoke(app, ["report", "simulate", str(tmp_path / "pop"), "--a", "321000@2022-06-01",
                                      "--b", "321000@2024-06-01", "--html", str(tmp_path / "no" / "sim.html")])
    assert result.exit_code == 2
    assert f"--html {tmp_path / 'no' / 'sim.html'}: cannot write" in result.output
