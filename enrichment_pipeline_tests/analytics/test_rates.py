"""Risk-free rate and dividend yield configuration: defaults, environment, user CSV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from enrichment_pipeline.analytics import rates
from enrichment_pipeline.analytics.rates import (
    DEFAULT_DIVIDEND_YIELD,
    DEFAULT_RISK_FREE_RATE,
    DIVIDEND_YIELD_ENV,
    RISK_FREE_RATE_CSV_ENV,
    RISK_FREE_RATE_ENV,
    dividend_yield,
    risk_free_rate,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (RISK_FREE_RATE_ENV, RISK_FREE_RATE_CSV_ENV, DIVIDEND_YIELD_ENV):
        monkeypatch.delenv(variable, raising=False)


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rates.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_named_documented_constants() -> None:
    assert DEFAULT_RISK_FREE_RATE == 0.04
    assert DEFAULT_DIVIDEND_YIELD == 0.0
    source = Path(rates.__file__).read_text(encoding="utf-8")
    assert 'DEFAULT_RISK_FREE_RATE = 0.04\n"""' in source  # the default carries its docstring


def test_default_flat_rate_keeps_shape_and_marks_missing_dates() -> None:
    result = risk_free_rate(np.array([["2024-01-02", "2024-06-28"], ["NaT", "2025-01-02"]], dtype="datetime64[D]"))
    assert result.shape == (2, 2)
    np.testing.assert_array_equal(result, [[0.04, 0.04], [np.nan, 0.04]])
    assert float(risk_free_rate("2024-01-02")) == 0.04
    np.testing.assert_array_equal(dividend_yield(["2024-01-02", "2024-01-03"]), [0.0, 0.0])


def test_flat_rates_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RISK_FREE_RATE_ENV, "0.0525")
    monkeypatch.setenv(DIVIDEND_YIELD_ENV, " 0.013 ")
    assert float(risk_free_rate(dt.date(2024, 1, 2))) == 0.0525
    assert float(dividend_yield(pd.Timestamp("2024-01-02 16:00", tz="America/New_York"))) == 0.013


def test_explicit_environ_mapping_overrides_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RISK_FREE_RATE_ENV, "0.05")
    assert float(risk_free_rate("2024-01-02", environ={RISK_FREE_RATE_ENV: "0.01"})) == 0.01
    assert float(risk_free_rate("2024-01-02", environ={})) == DEFAULT_RISK_FREE_RATE


@pytest.mark.parametrize(
    ("text", "problem"),
    [("four percent", "not a number"), ("4", "looks like a percentage"), ("nan", "not a finite number")],
)
def test_bad_flat_rate_names_the_variable(monkeypatch: pytest.MonkeyPatch, text: str, problem: str) -> None:
    monkeypatch.setenv(RISK_FREE_RATE_ENV, text)
    with pytest.raises(ValueError, match=RISK_FREE_RATE_ENV) as error:
        risk_free_rate("2024-01-02")
    assert problem in str(error.value)
    monkeypatch.setenv(DIVIDEND_YIELD_ENV, text)
    with pytest.raises(ValueError, match=DIVIDEND_YIELD_ENV):
        dividend_yield("2024-01-02")


def test_csv_is_piecewise_constant_and_carries_last_value_forward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows out of order on purpose: the file is sorted by date.
    path = write_csv(tmp_path, "date,rate\n2024-03-01,0.051\n2024-01-02,0.053\n2024-06-03,0.049\n")
    monkeypatch.setenv(RISK_FREE_RATE_CSV_ENV, str(path))
    monkeypatch.setenv(RISK_FREE_RATE_ENV, "0.99")  # the CSV takes precedence over the flat rate
    days = ["2024-01-02", "2024-02-29", "2024-03-01", "2024-06-02", "2024-06-03", "2030-01-01"]
    np.testing.assert_array_equal(risk_free_rate(days), [0.053, 0.053, 0.051, 0.051, 0.049, 0.049])
    series = pd.Series(pd.to_datetime(["2024-03-04", None]))
    np.testing.assert_array_equal(risk_free_rate(series), [0.051, np.nan])


def test_csv_date_before_first_row_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_csv(tmp_path, "date,rate\n2024-01-02,0.053\n")
    monkeypatch.setenv(RISK_FREE_RATE_CSV_ENV, str(path))
    with pytest.raises(ValueError, match=r"starts on 2024-01-02.*2023-12-29"):
        risk_free_rate(["2024-01-03", "2023-12-29"])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("when,value\n2024-01-02,0.05\n", "header 'date,rate'"),
        ("date,rate\n", "no data rows"),
        ("date,rate\n2024-01-02,0.05\n2024-13-40,0.05\n", "line 3: '2024-13-40' is not an ISO date"),
        ("date,rate\n2024-01-02,five\n", "line 2: 'five' is not a number"),
        ("date,rate\n2024-01-02,5.25\n", "line 2: 5.25 looks like a percentage"),
        ("date,rate\n2024-01-02,0.05,extra\n", "line 2: expected 2 columns"),
        ("date,rate\n2024-01-02,0.05\n2024-01-02,0.06\n", "2024-01-02 appears more than once"),
    ],
)
def test_bad_csv_names_the_file_and_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, problem: str
) -> None:
    path = write_csv(tmp_path, text)
    monkeypatch.setenv(RISK_FREE_RATE_CSV_ENV, str(path))
    with pytest.raises(ValueError) as error:
        risk_free_rate("2024-06-03")
    assert str(path) in str(error.value)
    assert problem in str(error.value)


def test_missing_csv_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "absent.csv"
    monkeypatch.setenv(RISK_FREE_RATE_CSV_ENV, str(path))
    with pytest.raises(ValueError, match="absent.csv.*cannot be read"):
        risk_free_rate("2024-06-03")


def test_csv_tolerates_blank_lines_byte_order_mark_and_header_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("\ufeffDate,Rate\n2024-01-02,0.05\n\n2024-02-01,-0.001\n", encoding="utf-8")
    monkeypatch.setenv(RISK_FREE_RATE_CSV_ENV, str(path))
    np.testing.assert_array_equal(risk_free_rate(["2024-01-31", "2024-02-01"]), [0.05, -0.001])
