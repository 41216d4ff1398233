from __future__ import annotations

import datetime as dt

import pytest

from enrichment_pipeline.polygon.models import OptionContract, OptionSnapshot
from enrichment_pipeline.polygon.option_ticker import OptionTicker, format_option_ticker, parse_option_ticker
from enrichment_pipeline_tests.polygon import (
    FIXTURE_MODELS,
    MALFORMED_FIXTURE_TICKERS,
    fixture_results,
    load_fixture,
    option_tickers_in,
)


def test_documented_examples():
    assert parse_option_ticker("O:AAPL230616C00150000") == OptionTicker("AAPL", dt.date(2023, 6, 16), "call", 150.0)
    evri = parse_option_ticker("O:EVRI240119C00002500")
    assert (evri.root, evri.expiration_date, evri.contract_type, evri.strike) == (
        "EVRI",
        dt.date(2024, 1, 19),
        "call",
        2.5,
    )
    assert evri.correction is None


def test_prefix_is_optional():
    # The client test requests /v3/reference/options/contracts/OEVRI240119C00002500 without "O:".
    assert parse_option_ticker("EVRI240119C00002500") == parse_option_ticker("O:EVRI240119C00002500")


def test_single_letter_root_and_put():
    parsed = parse_option_ticker("O:A220520P00065000")
    assert parsed == OptionTicker("A", dt.date(2022, 5, 20), "put", 65.0)


def test_fractional_and_large_strikes():
    assert parse_option_ticker("O:SPY251219C00650500").strike == 650.5
    assert parse_option_ticker("O:NVR250117P09999999").strike == 9999.999


def test_corrected_contract_digit_is_stripped_from_root():
    parsed = parse_option_ticker("O:AAPL1230616C00150000")
    assert parsed.root == "AAPL"
    assert parsed.correction == 1
    assert (parsed.expiration_date, parsed.strike) == (dt.date(2023, 6, 16), 150.0)
    assert parsed.ticker == "O:AAPL230616C00150000"  # query without the digit


@pytest.mark.parametrize(
    "ticker, problem",
    [
        ("O:AAPL231332C00150000", "not a real date"),
        ("O:AAPL230229C00150000", "not a real date"),  # 2023 is not a leap year
        ("O:AAPL2306X6C00150000", "6 digits YYMMDD"),
        ("O:AAPL230616X00150000", "'C' or 'P'"),
        ("O:AAPL230616c00150000", "'C' or 'P'"),
        ("O:AAPL230616C0015000A", "8 digits"),
        ("O:AAPL230616C00000000", "strike is zero"),
        ("O:230616C00150000", "too short"),
        ("O:AAPL", "too short"),
        ("", "too short"),
        ("O:aapl230616C00150000", "upper-case"),
        ("O:AA-PL230616C00150000", "upper-case"),
        ("O:AAPL211022C000150000", "6 digits YYMMDD"),  # the vendor's malformed example
    ],
)
def test_bad_tickers_raise_clear_errors(ticker, problem):
    with pytest.raises(ValueError) as info:
        parse_option_ticker(ticker)
    message = str(info.value)
    assert repr(ticker) in message
    assert problem in message


def test_non_string_raises_value_error():
    with pytest.raises(ValueError, match="expected a string"):
        parse_option_ticker(123)  # type: ignore[arg-type]


def test_format_examples_and_round_trip():
    assert format_option_ticker("AAPL", dt.date(2023, 6, 16), "call", 150) == "O:AAPL230616C00150000"
    assert format_option_ticker("EVRI", "2024-01-19", "C", 2.5) == "O:EVRI240119C00002500"
    assert format_option_ticker("A", dt.date(2022, 5, 20), "put", 65.0) == "O:A220520P00065000"
    for ticker in ["O:AAPL230616C00150000", "O:EVRI240119C00002500", "O:SPY251219P00650500"]:
        p = parse_option_ticker(ticker)
        assert format_option_ticker(p.root, p.expiration_date, p.contract_type, p.strike) == ticker
        assert p.ticker == ticker


@pytest.mark.parametrize(
    "args, problem",
    [
        (("aapl", dt.date(2023, 6, 16), "call", 150), "root"),
        (("AAPL", dt.date(1999, 6, 16), "call", 150), "2000–2099"),
        (("AAPL", "2023-13-01", "call", 150), "YYYY-MM-DD"),
        (("AAPL", dt.datetime(2023, 6, 16), "call", 150), "should be a date"),
        (("AAPL", dt.date(2023, 6, 16), "straddle", 150), "call or put"),
        (("AAPL", dt.date(2023, 6, 16), "call", 0), "outside"),
        (("AAPL", dt.date(2023, 6, 16), "call", -5), "outside"),
        (("AAPL", dt.date(2023, 6, 16), "call", 100000), "outside"),
        (("AAPL", dt.date(2023, 6, 16), "call", 1.2345), "3 decimals"),
        (("AAPL", dt.date(2023, 6, 16), "call", float("nan")), "finite"),
        (("AAPL", dt.date(2023, 6, 16), "call", "150"), "finite"),
    ],
)
def test_format_rejects_bad_input(args, problem):
    with pytest.raises(ValueError, match=problem):
        format_option_ticker(*args)


# ---------------------------------------------------------------------------------------------
# Every contract ticker in the fixture files
# ---------------------------------------------------------------------------------------------


def _all_fixture_option_tickers() -> list[str]:
    found: set[str] = set()
    for name in FIXTURE_MODELS:
        found |= option_tickers_in(load_fixture(name))
    return sorted(found)


def test_fixture_tickers_are_found():
    tickers = _all_fixture_option_tickers()
    assert "O:AAPL230616C00150000" in tickers and "O:EVRI240119C00002500" in tickers
    assert len(tickers) >= 22  # 20 contracts of A, EVRI, AAPL, and the malformed example


@pytest.mark.parametrize("ticker", _all_fixture_option_tickers())
def test_every_fixture_ticker(ticker):
    if ticker in MALFORMED_FIXTURE_TICKERS:
        with pytest.raises(ValueError):
            parse_option_ticker(ticker)
        return
    parsed = parse_option_ticker(ticker)
    assert parsed.ticker == ticker  # canonical form round-trips


def _fixture_contract_details():
    """(ticker, expiration, type, strike) as the vendor's structured fields give them."""
    out = []
    for name, model in FIXTURE_MODELS.items():
        for raw in fixture_results(name):
            if model is OptionContract:
                c = OptionContract.model_validate(raw)
                out.append((c.ticker, c.expiration_date, c.contract_type, c.strike_price))
            elif model is OptionSnapshot:
                d = OptionSnapshot.model_validate(raw).details
                out.append((d.ticker, d.expiration_date, d.contract_type, d.strike_price))
    return [item for item in out if item[0] not in MALFORMED_FIXTURE_TICKERS]


@pytest.mark.parametrize("ticker, expiration, contract_type, strike", _fixture_contract_details())
def test_ticker_agrees_with_vendor_fields(ticker, expiration, contract_type, strike):
    parsed = parse_option_ticker(ticker)
    assert (parsed.expiration_date, parsed.contract_type, parsed.strike) == (expiration, contract_type, strike)
    assert format_option_ticker(parsed.root, expiration, contract_type, strike) == ticker
