"""Simulated quarterly and annual financial statements (``/vX/reference/financials``).

Each symbol reports every fiscal quarter from fiscal year 2009 on (the XBRL era), with a fiscal
year that ends in its profile's month. Values follow the company's market value (revenue is a
per-symbol fraction of the average market cap over the quarter, net income a noisy margin of it),
so they move with the simulated stock. Earnings per share are *as reported*: divided by the share
count at the time, before any later split — like the vendor's data.

Rows come in the vendor's nested shape: ``financials.income_statement.<key> = {label, order, unit,
value}``. Quarterly rows (``Q1``–``Q4``) and annual ``FY`` rows are listed by default; ``TTM``
rows (``timeframe="ttm"``) only when asked for. A row exists once its ``filing_date`` (30–45
days after the period end, rolled to a session) has been reached.
"""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
from functools import lru_cache

import numpy as np

from enrichment_pipeline.simulator import market

__all__ = ["financials", "FIRST_FISCAL_YEAR"]

FIRST_FISCAL_YEAR = 2009
_PER_SHARE = "USD / shares"


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, month_calendar.monthrange(year, month)[1])


def _point(label: str, order: int, value: float, unit: str = "USD") -> dict:
    return {"label": label, "order": order, "unit": unit, "value": value}


def _statements(values: dict[str, float]) -> dict:
    v = values
    return {
        "income_statement": {
            "revenues": _point("Revenues", 100, v["revenues"]),
            "cost_of_revenue": _point("Cost Of Revenue", 300, v["cost_of_revenue"]),
            "gross_profit": _point("Gross Profit", 800, v["gross_profit"]),
            "operating_expenses": _point("Operating Expenses", 1000, v["operating_expenses"]),
            "operating_income_loss": _point("Operating Income/Loss", 1100, v["operating_income_loss"]),
            "income_tax_expense_benefit": _point("Income Tax Expense/Benefit", 2200, v["income_tax"]),
            "net_income_loss": _point("Net Income/Loss", 3200, v["net_income_loss"]),
            "net_income_loss_attributable_to_parent": _point(
                "Net Income/Loss Attributable To Parent", 3500, v["net_income_loss"]
            ),
            "basic_earnings_per_share": _point("Basic Earnings Per Share", 4200, v["basic_eps"], _PER_SHARE),
            "diluted_earnings_per_share": _point("Diluted Earnings Per Share", 4300, v["diluted_eps"], _PER_SHARE),
            "basic_average_shares": _point("Basic Average Shares", 4400, v["basic_shares"], "shares"),
            "diluted_average_shares": _point("Diluted Average Shares", 4500, v["diluted_shares"], "shares"),
        },
        "balance_sheet": {
            "assets": _point("Assets", 100, v["assets"]),
            "liabilities": _point("Liabilities", 600, v["liabilities"]),
            "equity": _point("Equity", 1400, v["equity"]),
            "liabilities_and_equity": _point("Liabilities And Equity", 1900, v["assets"]),
        },
        "cash_flow_statement": {
            "net_cash_flow_from_operating_activities": _point(
                "Net Cash Flow From Operating Activities", 100, v["operating_cash_flow"]
            ),
            "net_cash_flow": _point("Net Cash Flow", 1100, v["net_cash_flow"]),
        },
        "comprehensive_income": {
            "comprehensive_income_loss": _point("Comprehensive Income/Loss", 100, v["comprehensive_income"]),
        },
    }


def _sum_values(rows: list[dict[str, float]]) -> dict[str, float]:
    flows = (
        "revenues", "cost_of_revenue", "gross_profit", "operating_expenses", "operating_income_loss",
        "income_tax", "net_income_loss", "operating_cash_flow", "net_cash_flow", "comprehensive_income",
    )
    out = {key: float(sum(r[key] for r in rows)) for key in flows}
    for key in ("assets", "liabilities", "equity"):
        out[key] = rows[-1][key]  # balance sheet items are as of the period end
    out["basic_shares"] = float(round(np.mean([r["basic_shares"] for r in rows])))
    out["diluted_shares"] = float(round(np.mean([r["diluted_shares"] for r in rows])))
    out["basic_eps"] = round(out["net_income_loss"] / out["basic_shares"], 2)
    out["diluted_eps"] = round(out["net_income_loss"] / out["diluted_shares"], 2)
    return out


@lru_cache(maxsize=128)  # ~1 MB each
def _rows(symbol: str, n: int) -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    """(quarterly + annual rows, ttm rows), oldest first, for a history of ``n`` sessions."""
    p = market.profile(symbol)
    hist = market.history_of_length(symbol, n)
    sess = market.sessions()
    last_day = sess.date(n - 1)
    econ_cap = hist.close * hist.executed * p.shares_outstanding  # market cap, causal
    years = range(FIRST_FISCAL_YEAR, last_day.year + 2)
    noise = np.random.default_rng([p.seed, 40]).standard_normal((len(years) * 4, 6))

    regular: list[dict] = []
    ttm: list[dict] = []
    quarter_values: list[dict[str, float]] = []
    quarter_meta: list[tuple[dt.date, dt.date, dt.date, int]] = []
    previous_end = _month_end(FIRST_FISCAL_YEAR - 1, p.fiscal_year_end_month)
    k = 0
    for fiscal_year in years:
        year_values: list[dict[str, float]] = []
        for quarter in range(1, 5):
            absolute = fiscal_year * 12 + p.fiscal_year_end_month - 1 - 3 * (4 - quarter)
            end = _month_end(absolute // 12, absolute % 12 + 1)
            start = previous_end + dt.timedelta(days=1)
            previous_end = end
            z = noise[k]
            k += 1
            filing_index = sess.index_on_or_after(end + dt.timedelta(days=30 + int(abs(z[5]) * 6) % 16))
            if filing_index >= n:
                return tuple(regular), tuple(ttm)
            lo, hi = sess.index_on_or_after(start), sess.index_on_or_before(end)
            average_cap = float(np.mean(econ_cap[lo : hi + 1]))
            season = 1.08 if quarter == 4 else 1.0
            revenues = round(average_cap * p.sales_to_market_cap * season * (1.0 + 0.05 * z[0]), -5)
            margin = p.net_margin + 0.04 * z[1]
            net_income = round(revenues * margin, -4)
            gross_margin = min(max(0.35 + 0.15 * np.tanh(p.net_margin * 5) + 0.03 * z[2], 0.1), 0.9)
            cost = round(revenues * (1 - gross_margin), -4)
            gross = revenues - cost
            tax = round(max(net_income, 0.0) * 0.21 / 0.79, -4)
            operating_income = net_income + tax
            opex = gross - operating_income
            basic_shares = float(round(p.shares_outstanding * hist.executed[hi]))
            diluted_shares = float(round(basic_shares * (1.01 + 0.01 * abs(z[3]))))
            assets = round(average_cap * (0.4 + 0.2 * abs(z[4])), -5)
            values = {
                "revenues": revenues, "cost_of_revenue": cost, "gross_profit": gross,
                "operating_expenses": opex, "operating_income_loss": operating_income, "income_tax": tax,
                "net_income_loss": net_income,
                "basic_eps": round(net_income / basic_shares, 2),
                "diluted_eps": round(net_income / diluted_shares, 2),
                "basic_shares": basic_shares, "diluted_shares": diluted_shares,
                "assets": assets, "liabilities": round(assets * 0.55, -5), "equity": assets - round(assets * 0.55, -5),
                "operating_cash_flow": round(net_income * 1.2 + revenues * 0.03, -4),
                "net_cash_flow": round(net_income * 0.3 * z[2], -4),
                "comprehensive_income": round(net_income * (1 + 0.02 * z[4]), -4),
            }
            filing = sess.date(filing_index)
            regular.append(_record(p, symbol, "quarterly", f"Q{quarter}", fiscal_year, start, end, filing, values))
            year_values.append(values)
            quarter_values.append(values)
            quarter_meta.append((start, end, filing, fiscal_year))
            if len(quarter_values) >= 4:
                first_start = quarter_meta[-4][0]
                ttm.append(
                    _record(p, symbol, "ttm", "TTM", fiscal_year, first_start, end, filing, _sum_values(quarter_values[-4:]))
                )
        annual_start = quarter_meta[-4][0]
        end, filing = quarter_meta[-1][1], quarter_meta[-1][2]
        regular.append(_record(p, symbol, "annual", "FY", fiscal_year, annual_start, end, filing, _sum_values(year_values)))
    return tuple(regular), tuple(ttm)


def _record(
    p: market.Profile, symbol: str, timeframe: str, fiscal_period: str, fiscal_year: int,
    start: dt.date, end: dt.date, filing: dt.date, values: dict[str, float],
) -> dict:
    accession = f"{p.cik}-{filing.year % 100:02d}-{(filing.toordinal() * 7 + len(fiscal_period)) % 1_000_000:06d}"
    return {
        "cik": p.cik,
        "company_name": p.name,
        "tickers": [symbol],
        "sic": p.sic,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "filing_date": filing.isoformat(),
        "acceptance_datetime": f"{filing:%Y%m%d}16{(filing.day * 7) % 60:02d}{(filing.month * 13) % 60:02d}",
        "timeframe": timeframe,
        "fiscal_period": fiscal_period,
        "fiscal_year": str(fiscal_year),
        "source_filing_url": f"https://sec-filings.simulator.invalid/filings/{accession}",
        "source_filing_file_url": f"https://sec-filings.simulator.invalid/filings/{accession}/files/report.xml",
        "financials": _statements(values),
    }


def financials(symbol: str, as_of: dt.date | None = None, include_ttm: bool = False) -> list[dict]:
    """Filed statements of ``symbol`` as of the latest session, oldest first (shared dicts: do not
    mutate them; copy before changing)."""
    hist = market.history(symbol, as_of)
    regular, ttm = _rows(symbol, hist.n)
    return list(regular) + (list(ttm) if include_ttm else [])
