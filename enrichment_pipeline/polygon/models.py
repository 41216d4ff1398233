"""Pydantic models of the Polygon / Massive REST records this project reads.

This module (with ``option_ticker`` and ``parsing``) is the only place that knows the vendor's
wire format. It has no Dagster imports and does no I/O.

Validation policy (see ``CONTRACT.md`` in the shared fixtures):

* Unknown extra keys are ignored; only the fields we store, or that are worth checking, are
  modelled.
* Numbers must arrive as JSON numbers: numeric strings (``"1.5"``), booleans, NaN and ±inf are
  rejected. Integers are accepted wherever the spec says ``number``.
* Dates must be real calendar dates written ``YYYY-MM-DD`` (financial statement periods also
  ``YYYYMMDD``, because the spec says so while the examples use dashes). Timestamps are
  RFC 3339 with a zone and are normalised to UTC.
* Vendor ids typed ``string`` are also accepted as integers (the official Python client types
  them ``int``) and are coerced to ``str``.
* Fields that become part of a table's primary key, or a non-nullable column, are required;
  strings that land in a length-limited column are length-checked here, so a bad record is a
  reject instead of a failed batch insert.

Each record model has ``to_row(symbol, fetched_at, is_simulated, **context)`` that returns a
dict keyed by exactly the column names of its table in ``storage/schema.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from enrichment_pipeline.calendar import EXCHANGE_TIMEZONE, trading_day_of

__all__ = [
    "AggregateBar",
    "Dividend",
    "StockSplit",
    "FinancialReport",
    "FinancialDataPoint",
    "IncomeStatement",
    "NewsArticle",
    "NewsInsight",
    "NewsPublisher",
    "OptionSnapshot",
    "OptionDetails",
    "OptionDay",
    "OptionGreeks",
    "UnderlyingAsset",
    "OptionContract",
    "ReferenceTicker",
    "VendorRecord",
]

_EXCHANGE_TZ = ZoneInfo(EXCHANGE_TIMEZONE)
_UTC = dt.timezone.utc

# --------------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------------


def _whole_number(value: Any) -> Any:
    """JSON integers, or floats with an integral value (``100.0``); never bools or strings."""
    if isinstance(value, bool):
        raise PydanticCustomError("whole_number", "Input should be a whole number, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise PydanticCustomError("whole_number", "Input should be a whole number")


def _vendor_id(value: Any) -> Any:
    """Ids are strings on the wire; the official client types some as int. Coerce int → str."""
    if isinstance(value, bool):
        raise PydanticCustomError("vendor_id", "Input should be a string id, not a boolean")
    if isinstance(value, int):
        return str(value)
    return value


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COMPACT_DATE = re.compile(r"[0-9]{8}")


def _parse_date(value: Any, *, allow_compact: bool) -> dt.date:
    if isinstance(value, dt.datetime):
        raise PydanticCustomError("date_type", "Input should be a date, not a datetime")
    if isinstance(value, dt.date):
        return value
    expected = "YYYY-MM-DD or YYYYMMDD" if allow_compact else "YYYY-MM-DD"
    if not isinstance(value, str):
        raise PydanticCustomError("date_type", "Input should be a date string ({expected})", {"expected": expected})
    if _ISO_DATE.fullmatch(value):
        fmt = "%Y-%m-%d"
    elif allow_compact and _COMPACT_DATE.fullmatch(value):
        fmt = "%Y%m%d"
    else:
        raise PydanticCustomError("date_format", "Input should be a date in {expected} format", {"expected": expected})
    try:
        return dt.datetime.strptime(value, fmt).date()
    except ValueError:
        raise PydanticCustomError("date_value", "Input should be a real calendar date") from None


def _iso_date(value: Any) -> dt.date:
    return _parse_date(value, allow_compact=False)


def _flexible_date(value: Any) -> dt.date:
    return _parse_date(value, allow_compact=True)


def _utc_datetime(value: Any) -> dt.datetime:
    """RFC 3339 timestamp with a zone (``Z`` or ``±HH:MM``) → aware UTC datetime."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("datetime_format", "Input should be an RFC 3339 timestamp") from None
        if "T" not in value.upper() and " " not in value:
            raise PydanticCustomError("datetime_format", "Input should be an RFC 3339 timestamp, not a date")
    else:
        raise PydanticCustomError("datetime_type", "Input should be an RFC 3339 timestamp string")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PydanticCustomError("datetime_naive", "Timestamp should carry a timezone (e.g. a trailing Z)")
    return parsed.astimezone(_UTC)


def _none_to_empty_list(value: Any) -> Any:
    return [] if value is None else value


def _fiscal_year(value: Any) -> Any:
    """The spec types ``fiscal_year`` as a string ("2022"); accept an int as well."""
    if isinstance(value, bool):
        raise PydanticCustomError("fiscal_year", "Input should be a four-digit year")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}", value):
        return int(value)
    raise PydanticCustomError("fiscal_year", "Input should be a four-digit year")


FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]
PositiveFloat = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
NonNegativeWhole = Annotated[int, BeforeValidator(_whole_number), Field(ge=0)]
StrictBool = Annotated[bool, Field(strict=True)]
Text = Annotated[str, Field(strict=True)]
NonEmptyText = Annotated[str, Field(strict=True, min_length=1)]
# Constraints before the BeforeValidator, so they apply to the str schema (clear messages).
VendorId = Annotated[str, Field(strict=True, min_length=1), BeforeValidator(_vendor_id)]
IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
FlexibleDate = Annotated[dt.date, BeforeValidator(_flexible_date)]
UtcDatetime = Annotated[dt.datetime, BeforeValidator(_utc_datetime)]
TextList = Annotated[list[Text], BeforeValidator(_none_to_empty_list)]

ContractType = Literal["call", "put", "other"]
ExerciseStyle = Literal["american", "european", "bermudan"]

# Unix milliseconds of 2200-01-01; anything later is garbage, not a bar.
_MAX_TIMESTAMP_MS = 7_258_118_400_000


# --------------------------------------------------------------------------------------------
# Bases
# --------------------------------------------------------------------------------------------


class _Part(BaseModel):
    """A nested object inside a record."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_by_alias=True, validate_by_name=True)


class VendorRecord(_Part):
    """One item of an endpoint's ``results``.

    Snapshot endpoints may return per-item errors inside a 200 response, e.g.
    ``{"error": "NOT_FOUND", "message": "Ticker not found.", "ticker": ...}``; every record model
    refuses such an item with a readable reason, so it becomes a reject instead of a crash or a
    half-empty row.
    """

    # Name of the destination table in storage/schema.py (None: no table).
    dataset: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_vendor_error_item(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "error" in data:
            error = data.get("error")
            message = data.get("message")
            text = f"vendor error item {error}"
            if message:
                text += f": {message}"
            if data.get("ticker"):
                text += f" (ticker {data.get('ticker')})"
            raise PydanticCustomError("vendor_error", "{text}", {"text": text})
        return data

    def to_row(self, symbol: str, fetched_at: dt.datetime, is_simulated: bool, **context: Any) -> dict[str, Any]:
        raise NotImplementedError


def _base_row(symbol: str, fetched_at: dt.datetime, is_simulated: bool) -> dict[str, Any]:
    if not isinstance(symbol, str) or not symbol:
        raise ValueError(f"symbol must be a non-empty string, got {symbol!r}")
    if not isinstance(fetched_at, dt.datetime) or fetched_at.tzinfo is None or fetched_at.utcoffset() is None:
        raise ValueError(f"fetched_at must be a timezone-aware datetime, got {fetched_at!r}")
    return {
        "symbol": symbol,
        "is_simulated": bool(is_simulated),
        "fetched_at": fetched_at.astimezone(_UTC),
    }


def _context_date(context: Mapping[str, Any], key: str, model: str) -> dt.date:
    if key not in context or context[key] is None:
        raise TypeError(f"{model}.to_row() needs the keyword argument {key}=<date>")
    value = context[key]
    if isinstance(value, dt.datetime):
        raise TypeError(f"{model}.to_row(): {key} must be a date, not a datetime")
    if isinstance(value, dt.date):
        return value
    return _iso_date(value)


# --------------------------------------------------------------------------------------------
# /v2/aggs/ticker/{t}/range/1/day/{from}/{to} → market_data
# --------------------------------------------------------------------------------------------


class AggregateBar(VendorRecord):
    """A daily OHLCV bar. ``t`` is the Unix-ms start of the window; the bar's date is that
    instant's calendar date in exchange time (America/New_York), so DST does not shift it."""

    dataset: ClassVar[str | None] = "market_data"

    open: PositiveFloat = Field(alias="o")
    high: PositiveFloat = Field(alias="h")
    low: PositiveFloat = Field(alias="l")
    close: PositiveFloat = Field(alias="c")
    volume: NonNegativeFloat = Field(alias="v")
    vwap: NonNegativeFloat | None = Field(default=None, alias="vw")
    timestamp_ms: Annotated[int, BeforeValidator(_whole_number), Field(ge=0, le=_MAX_TIMESTAMP_MS)] = Field(alias="t")
    transactions: NonNegativeWhole | None = Field(default=None, alias="n")
    otc: StrictBool = False  # omitted by the vendor when false

    @model_validator(mode="after")
    def _low_not_above_high(self) -> AggregateBar:
        if self.low > self.high:
            raise PydanticCustomError(
                "bar_range", "l/h: low {low} is above high {high}", {"low": self.low, "high": self.high}
            )
        return self

    @property
    def window_start(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.timestamp_ms / 1000, tz=_UTC)

    @property
    def date(self) -> dt.date:
        return self.window_start.astimezone(_EXCHANGE_TZ).date()

    def to_row(self, symbol: str, fetched_at: dt.datetime, is_simulated: bool, **context: Any) -> dict[str, Any]:
        row = _base_row(symbol, fetched_at, is_simulated)
        row.update(
            date=self.date,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            vwap=self.vwap,
            transactions=self.transactions,
        )
        return row


# --------------------------------------------------------------------------------------------
# /v3/reference/dividends → dividends
# --------------------------------------------------------------------------------------------


class Dividend(VendorRecord):
    dataset: ClassVar[str | None] = "dividends"

    vendor_id: VendorId | None = Field(default=None, alias="id")  # absent in older responses
    ticker: NonEmptyText
    cash_amount: NonNegativeFloat
    currency: Annotated[str, Field(strict=True, min_length=1, max_length=3)] | None = None
    dividend_type: Literal["CD", "SC", "LT", "ST"]  # part of the primary key
    declaration_date: IsoDate | None = None
    ex_dividend_date: IsoDate
    record_date: IsoDate | None = None
    pay_date: IsoDate | None = None
    frequency: NonNegativeWhole | None = None

    def to_row(self, symbol: str, fetched_at: dt.datetime, is_simulated: bool, **context: Any) -> dict[str, Any]:
        row = _base_row(symbol, fetched_at, is_simulated)
        row.update(
            ex_dividend_date=self.ex_dividend_date,
            dividend_type=self.dividend_type,
            vendor_id=self.vendor_id,
            cash_amount=self.cash_amount,
            currency=self.currency,
            declaration_date=self.declaration_date,
            record_date=self.record_date,
            pay_date=self.pay_date,
            frequency=self.frequency,
        )
        return row


# --------------------------------------------------------------------------------------------
# /v3/reference/splits → stock_splits
# --------------------------------------------------------------------------------------------


class StockSplit(VendorRecord):
    """``split_from`` old shares become ``split_to`` new shares (1→4 forward, 2→1 reverse)."""

    dataset: ClassVar[str | None] = "stock_splits"

    vendor_id: VendorId | None = Field(default=None, alias="id")
    ticker: NonEmptyText
    execution_date: IsoDate
    split_from: PositiveFloat
    split_to: PositiveFloat

    @property
    def ratio(self) -> float:
        """New shares per old share (4.0 for a 1→4 split)."""
        return self.split_to / self.split_from

    def to_row(self, symbol: str, fetched_at: dt.datetime, is_simulated: bool, **context: Any) -> dict[str, Any]:
        row = _base_row(symbol, fetched_at, is_simulated)
        row.update(
            execution_date=self.execution_date,
            vendor_id=self.vendor_id,
            split_from=self.split_from,
            split_to=self.split_to,
        )
        return row


# --------------------------------------------------------------------------------------------
# /vX/reference/financials → earnings
# --------------------------------------------------------------------------------------------


class FinancialDataPoint(_Part):
    value: FiniteFloat
    unit: Text | None = None
    label: Text | None = None


class IncomeStatement(_Part):
    """Only the income-statement data points the ``earnings`` table stores."""

    basic_earnings_per_share: FinancialDataPoint | None = None
    diluted_earnings_per_share: FinancialDataPoint | None = None
    revenues: FinancialDataPoint | None = None
    net_income_loss: FinancialDataPoint | None = None


class FinancialStatements(_Part):
    income_statement: IncomeStatement = Field(default_factory=IncomeStatement)


class FinancialReport(VendorRecord):
    dataset: ClassVar[str | None] = "earnings"

    cik: Text | None = None
    company_name: Text | None = None
    tickers: TextList = Field(default_factory=list)
    start_date: FlexibleDate | None = None
    end_date: FlexibleDate | None = None
    filing_date: FlexibleDate  # primary key of the earnings table
    fiscal_year: Annotated[int, BeforeValidator(_fiscal_year), Field(ge=1900, le=2200)]
    fiscal_period: Annotated[str, Field(strict=True, pattern=r"^(Q[1-4]|H[12]|FY|TTM)$")]
    timeframe: Literal["quarterly", "annual", "ttm"] | None = None  # absent in the client mock
    financials: FinancialStatements = Field(default_factory=FinancialStatements)

    @model_validator(mode="after")
    def _period_in_order(self) -> FinancialReport:
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise PydanticCustomError(
                "period_order",
                "start_date/end_date: start {start} is after end {end}",
                {"start": self.start_date.isoformat(), "end": self.end_date.isoformat()},
            )
        return self

    def _value(self, key: str) -> float | None:
        point = getattr(self.financials.income_statement, key)
        return None if point is None else point.value

    @property
    def basic_eps(self) -> float | None:
        return self._value("basic_earnings_per_share")

    @property
    def diluted_eps(self) -> float | None:
        return self._value("diluted_earnings_per_share")

    @property
    def revenue(self) -> float | None:
        return self._value("revenues")

    @property
    def net_income(self) -> float | None:
        return self._value("net_income_loss")

    def to_row(self, symbol: str, fetched_at: dt.datetime, is_simulated: bool, **context: Any) -> dict[str, Any]:
        row = _base_row(symbol, fetched_at, is_simulated)
        row.update(
            filing_date=self.filing_date,
            fiscal_year=self.fiscal_year,
            fiscal_period=self.fiscal_period,
            timeframe=self.timeframe,
            start_date=self.start_date,
            end_date=self.end_date,
            basic_eps=self.basic_eps,
            diluted_eps=self.diluted_eps,
            revenue=self.revenue,
            net_income=self.net_income,
            company_name=self.company_name,
        )
        return row


# --------------------------------------------------------------------------------------------
# /v2/reference/news → news
# --------------------------------------------------------------------------------------------


class NewsPublisher(_Part):
    name: Text | None = None
    homepage_url: Text | None = None


class NewsInsight(_Part):
    ticker: NonEmptyText
    sentiment: Literal["positive", "neutral", "negative"]
    sentiment_reasoning: Text | None = None


class NewsArticle(VendorRecord):
    dataset: ClassVar[str | None] = "news"

    article_id: Annotated[str, Field(strict=True, min_length=1, max_length=128), BeforeValidator(_vendor_id)] = Field(
        alias="id"
    )
    publisher: NewsPublisher | None = None
    title: NonEmptyText
    author: Text | None = None
    published_utc: UtcDatetime
    article_url: Text | None = None
    description: Text | None = None
    tickers: TextList = Field(default_factory=list)
    keywords: TextList = Field(default_factory=list)
    insights: Annotated[list[NewsInsight], BeforeValidator(_none_to_empty_list)] = Field(default_factory=list)

    def insight_for(self, symbol: str) -> NewsInsight | None:
        """The vendor's sentiment insight about ``symbol`` (first match), if any."""
        wanted = symbol.upper()
        return next((i for i in self.insights if i.ticker.upper() == wanted), None)

    @property
    def trading_day(self) -> dt.date:
        return trading_day_of(self.published_utc)

    def to_row(self, symbol: str, fetched_at: dt.datetime, is_simulated: bool, **context: Any) -> dict[str, Any]:
        row = _base_row(symbol, fetched_at, is_simulated)
        insight = self.insight_for(symbol)
        row.update(
            article_id=self.article_id,
            date=self.trading_day,
            published_utc=self.published_utc,
            title=self.title,
            author=self.author,
            publisher=self.publisher.name if self.publisher else None,
            article_url=self.article_url,
            description=self.description,
            tickers=json.dumps(list(self.tickers)),
            keywords=json.dumps(list(self.keywords)),
            sentiment=insight.sentiment if insight else None,
            sentiment_reasoning=insight.sentiment_reasoning if insight else None,
        )
        return row


# --------------------------------------------------------------------------------------------
# /v3/snapshot/options/{underlying} → options_iv
# --------------------------------------------------------------------------------------------


class OptionDetails(_Part):
    # Not parsed with option_ticker: the vendor's own example carries a malformed ticker, and the
    # structured fields below are authoritative.
    ticker: Annotated[str, Field(strict=True, min_length=1, max_length=40)]
    contract_type: ContractType
    exercise_style: ExerciseStyle | None = None
    expiration_date: IsoDate
    strike_price: PositiveFloat
    shares_per_contract: PositiveFloat | None = None


class OptionDay(_Part):
    """The contract's session bar; ``{}`` when it has not traded."""

    open: NonNegativeFloat | None = None
    high: NonNegativeFloat | None = None
    low: NonNegativeFloat | None = None
    close: NonNegativeFloat | None = None
    previous_close: NonNegativeFloat | None = None
    volume: NonNegativeFloat | None = None
    vwap: NonNegativeFloat | None = None
    change: FiniteFloat | None = None
    change_percent: FiniteFloat | None = None
    last_updated: NonNegativeWhole | None = None  # Unix ns


class OptionGreeks(_Part):
    """Vendor greeks: theta per calendar day, vega per 1 percentage point of volatility."""

    delta: FiniteFloat | None = None
    gamma: FiniteFloat | None = None
    theta: FiniteFloat | None = None
    vega: FiniteFloat | None = None


class UnderlyingAsset(_Part):
    ticker: Text | None = None
    price: PositiveFloat | None = None
    value: FiniteFloat | None = None
    change_to_break_even: FiniteFloat | None = None
    last_updated: NonNegativeWhole | None = None


class OptionSnapshot(VendorRecord):
    """One contract of an options-chain snapshot. Greeks and IV are optional (the vendor omits
    them e.g. deep in the money); IV is a decimal (0.357 = 35.7 %)."""

    dataset: ClassVar[str | None] = "options_iv"

    details: OptionDetails
    day: OptionDay = Field(default_factory=OptionDay)
    greeks: OptionGreeks | None = None
    implied_volatility: NonNegativeFloat | None = None
    open_interest: NonNegativeFloat | None = None
    break_even_price: FiniteFloat | None = None
    fmv: FiniteFloat | None = None
    underlying_asset: UnderlyingAsset | None = None

    def to_row(self, symbol: str, fetched_at: dt.datetime, is_simulated: bool, **context: Any) -> dict[str, Any]:
        """Context: ``session_date`` (the trading day the snapshot describes), required."""
        session_date = _context_date(context, "session_date", type(self).__name__)
        row = _base_row(symbol, fetched_at, is_simulated)
        greeks = self.greeks or OptionGreeks()
        row.update(
            date=session_date,
            contract=self.details.ticker,
            expiration_date=self.details.expiration_date,
            strike=self.details.strike_price,
            contract_type=self.details.contract_type,
            exercise_style=self.details.exercise_style,
            price=self.day.close,
            volume=self.day.volume,
            open_interest=self.open_interest,
            underlying_price=self.underlying_asset.price if self.underlying_asset else None,
            implied_volatility=self.implied_volatility,
            delta=greeks.delta,
            gamma=greeks.gamma,
            theta_per_day=greeks.theta,
            vega_per_vol_point=greeks.vega,
        )
        return row


# --------------------------------------------------------------------------------------------
# /v3/reference/options/contracts → plain dict for the historical IV computation
# --------------------------------------------------------------------------------------------


class OptionContract(VendorRecord):
    dataset: ClassVar[str | None] = None

    ticker: Annotated[str, Field(strict=True, min_length=1, max_length=40)]
    underlying_ticker: NonEmptyText
    contract_type: ContractType
    exercise_style: ExerciseStyle | None = None
    expiration_date: IsoDate
    strike_price: PositiveFloat
    shares_per_contract: PositiveFloat | None = None
    primary_exchange: Text | None = None
    cfi: Text | None = None
    correction: WholeNumber | None = None

    def to_contract(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "underlying": self.underlying_ticker,
            "expiration_date": self.expiration_date,
            "strike": self.strike_price,
            "contract_type": self.contract_type,
            "exercise_style": self.exercise_style,
            "shares_per_contract": self.shares_per_contract,
        }

    def to_row(
        self,
        symbol: str | None = None,
        fetched_at: dt.datetime | None = None,
        is_simulated: bool = False,
        **context: Any,
    ) -> dict[str, Any]:
        """No table: the contract dict (same as ``to_contract``); the arguments are ignored."""
        return self.to_contract()


# --------------------------------------------------------------------------------------------
# /v3/reference/tickers → plain dict (symbol discovery / validation)
# --------------------------------------------------------------------------------------------


class ReferenceTicker(VendorRecord):
    dataset: ClassVar[str | None] = None

    ticker: NonEmptyText
    name: NonEmptyText
    market: Literal["stocks", "crypto", "fx", "otc", "indices"]
    locale: Literal["us", "global"]
    primary_exchange: Text | None = None
    type: Text | None = None
    active: StrictBool | None = None
    currency_name: Text | None = None
    cik: Text | None = None
    composite_figi: Text | None = None
    share_class_figi: Text | None = None
    last_updated_utc: UtcDatetime | None = None
    delisted_utc: UtcDatetime | None = None

    def to_row(
        self,
        symbol: str | None = None,
        fetched_at: dt.datetime | None = None,
        is_simulated: bool = False,
        **context: Any,
    ) -> dict[str, Any]:
        """No table: a plain dict of the reference fields; the arguments are ignored."""
        return self.model_dump(mode="python")
