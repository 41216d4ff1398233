"""Historical implied volatility and greeks from historical option prices.

The vendor keeps greeks only for today's snapshot, so history is rebuilt: contracts listed on
each day (``/v3/reference/options/contracts?as_of=``), the daily closes of the selected ones
(``/v2/aggs`` of the option tickers, one request per contract for the whole span), the
underlying's close from ``market_data``, then our own Black–Scholes–Merton solver.
No Dagster here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from enrichment_pipeline.analytics.option_chain import compute_chain_iv, select_contracts, year_fraction
from enrichment_pipeline.analytics.rates import dividend_yield, risk_free_rate
from enrichment_pipeline.calendar import trading_days
from enrichment_pipeline.polygon.client import PolygonClient
from enrichment_pipeline.polygon.models import AggregateBar, OptionContract
from enrichment_pipeline.polygon.parsing import Reject, parse_records
from enrichment_pipeline.settings import float_setting, positive_int_setting
from enrichment_pipeline.storage import reads


@dataclass(frozen=True)
class ChainLimits:
    """How much of each day's chain to price: the knobs that keep a backfill inside the rate limit."""

    max_days_to_expiry: int = 45
    strike_band_pct: float = 10.0
    max_contracts_per_day: int = 40

    @classmethod
    def from_environment(cls) -> "ChainLimits":
        return cls(
            max_days_to_expiry=positive_int_setting("ENRICHMENT_OPTIONS_MAX_DAYS_TO_EXPIRY", cls.max_days_to_expiry),
            strike_band_pct=float_setting("ENRICHMENT_OPTIONS_STRIKE_BAND_PCT", cls.strike_band_pct),
            max_contracts_per_day=positive_int_setting("ENRICHMENT_OPTIONS_MAX_CONTRACTS_PER_DAY", cls.max_contracts_per_day),
        )


@dataclass
class HistoryOutcome:
    rows: list[dict] = field(default_factory=list)
    rejects: list[tuple[str, Reject]] = field(default_factory=list)  # (dataset, reject)
    contracts_priced: int = 0
    days_without_underlying: list[dt.date] = field(default_factory=list)


def _nearest_to_spot(chosen: pd.DataFrame, spot: float, limit: int) -> pd.DataFrame:
    order = (chosen["strike_price"] - spot).abs().argsort(kind="stable")
    return chosen.iloc[order[:limit]]


def option_history_rows(
    client: PolygonClient, engine, symbol: str, start: dt.date, end: dt.date, limits: ChainLimits, computed_at: dt.datetime  # noqa: ANN001
) -> HistoryOutcome:
    outcome = HistoryOutcome()
    closes = reads.closes(engine, symbol, start, end).set_index("date")
    simulated = bool(closes["is_simulated"].any()) if len(closes) else False
    band = limits.strike_band_pct / 100.0
    selected_by_day: dict[dt.date, pd.DataFrame] = {}
    for day in trading_days(start, end):
        if day not in closes.index:
            outcome.days_without_underlying.append(day)
            continue
        spot = float(closes.at[day, "close"])
        parsed = parse_records(
            OptionContract,
            client.option_contracts(
                symbol, day,
                **{
                    "expiration_date.gte": day.isoformat(),
                    "expiration_date.lte": (day + dt.timedelta(days=limits.max_days_to_expiry)).isoformat(),
                    "strike_price.gte": f"{spot * (1 - band):.4f}",
                    "strike_price.lte": f"{spot * (1 + band):.4f}",
                },
            ),
        )
        outcome.rejects.extend(("options_contracts", r) for r in parsed.rejects)
        contracts = pd.DataFrame([record.to_contract() for record in parsed.valid]).rename(columns={"strike": "strike_price"})
        if contracts.empty:
            continue
        chosen = select_contracts(contracts, spot, day, limits.max_days_to_expiry, limits.strike_band_pct)
        selected_by_day[day] = _nearest_to_spot(chosen, spot, limits.max_contracts_per_day)
    # One price request per contract over the days it was selected.
    days_by_contract: dict[str, list[dt.date]] = defaultdict(list)
    contract_info: dict[str, dict] = {}
    for day, chosen in selected_by_day.items():
        for record in chosen.to_dict("records"):
            days_by_contract[record["ticker"]].append(day)
            contract_info[record["ticker"]] = record
    option_rows = []
    for ticker, days in days_by_contract.items():
        parsed = parse_records(AggregateBar, client.daily_bars(ticker, min(days), max(days), dataset="options_iv_history"))
        outcome.rejects.extend(("options_iv_history", r) for r in parsed.rejects)
        wanted = set(days)
        info = contract_info[ticker]
        for bar in parsed.valid:
            if bar.date in wanted:
                option_rows.append({
                    "date": bar.date, "contract": ticker, "expiration_date": info["expiration_date"],
                    "strike": float(info["strike_price"]), "contract_type": info["contract_type"], "option_close": bar.close,
                })
        outcome.contracts_priced += 1
    if not option_rows:
        return outcome
    frame = pd.DataFrame(option_rows)
    frame["underlying_close"] = closes.loc[frame["date"], "close"].to_numpy(dtype=float)
    frame["time_to_expiry_years"] = [year_fraction(d, e) for d, e in zip(frame["date"], frame["expiration_date"])]
    frame["risk_free_rate"] = risk_free_rate(frame["date"].to_numpy())
    frame["dividend_yield"] = dividend_yield(frame["date"].to_numpy())
    priced = compute_chain_iv(frame)
    priced = priced.astype({c: object for c in priced.columns if priced[c].dtype.kind == "f"})
    priced = priced.where(pd.notna(priced), None)
    for record in priced.to_dict("records"):
        outcome.rows.append({
            "symbol": symbol, "date": record["date"], "contract": record["contract"],
            "expiration_date": record["expiration_date"], "strike": record["strike"],
            "contract_type": record["contract_type"], "option_close": record["option_close"],
            "underlying_close": record["underlying_close"], "time_to_expiry_years": record["time_to_expiry_years"],
            "risk_free_rate": record["risk_free_rate"], "dividend_yield": record["dividend_yield"],
            "implied_volatility": record["implied_volatility"], "iv_status": str(record["iv_status"]),
            "delta": record["delta"], "gamma": record["gamma"], "vega_per_vol_point": record["vega_per_vol_point"],
            "theta_per_day": record["theta_per_day"], "rho_per_rate_point": record["rho_per_rate_point"],
            "is_simulated": simulated or client.is_simulated, "computed_at": computed_at,
        })
    return outcome
