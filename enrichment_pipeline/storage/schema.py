"""Table definitions of the enrichment database.

Every enrichment table carries ``symbol`` plus the date column that places a row in its
Dagster partition (``PARTITION_DATE_COLUMN``); its primary key is the record's natural key,
so an upsert of the same slice twice leaves the same rows. Prices and amounts are floats
(double precision): the vendor sends JSON numbers, so NUMERIC would only add false precision.
Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

SYMBOL = 16  # longest ticker we accept; see enrichment_pipeline.symbols


def _symbol(primary_key: bool = True) -> Column:
    return Column("symbol", String(SYMBOL), primary_key=primary_key, nullable=False)


def _fetched_at() -> Column:
    return Column("fetched_at", DateTime(timezone=True), nullable=False)


def _is_simulated() -> Column:
    # True when the row came from the project's Polygon simulator, never real market data.
    return Column("is_simulated", Boolean, nullable=False, default=False)


market_data = Table(
    "market_data",
    metadata,
    _symbol(),
    Column("date", Date, primary_key=True),
    Column("open", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("close", Float, nullable=False),
    Column("volume", Float, nullable=False),
    Column("vwap", Float),
    Column("transactions", BigInteger),
    _is_simulated(),
    _fetched_at(),
)

dividends = Table(
    "dividends",
    metadata,
    _symbol(),
    Column("ex_dividend_date", Date, primary_key=True),
    Column("dividend_type", String(8), primary_key=True),
    Column("vendor_id", String(128)),
    Column("cash_amount", Float, nullable=False),
    Column("currency", String(3)),
    Column("declaration_date", Date),
    Column("record_date", Date),
    Column("pay_date", Date),
    Column("frequency", Integer),
    _is_simulated(),
    _fetched_at(),
)

stock_splits = Table(
    "stock_splits",
    metadata,
    _symbol(),
    Column("execution_date", Date, primary_key=True),
    Column("vendor_id", String(128)),
    Column("split_from", Float, nullable=False),
    Column("split_to", Float, nullable=False),
    _is_simulated(),
    _fetched_at(),
)

earnings = Table(
    "earnings",
    metadata,
    _symbol(),
    Column("filing_date", Date, primary_key=True),
    Column("fiscal_year", Integer, primary_key=True),
    Column("fiscal_period", String(4), primary_key=True),
    Column("timeframe", String(16)),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("basic_eps", Float),
    Column("diluted_eps", Float),
    Column("revenue", Float),
    Column("net_income", Float),
    Column("company_name", Text),
    _is_simulated(),
    _fetched_at(),
)

news = Table(
    "news",
    metadata,
    _symbol(),
    Column("article_id", String(128), primary_key=True),
    # Trading day of publication in exchange time (America/New_York); weekend and holiday
    # articles roll forward to the next session.
    Column("date", Date, nullable=False, index=True),
    Column("published_utc", DateTime(timezone=True), nullable=False),
    Column("title", Text, nullable=False),
    Column("author", Text),
    Column("publisher", Text),
    Column("article_url", Text),
    Column("description", Text),
    Column("tickers", Text),  # JSON array
    Column("keywords", Text),  # JSON array
    Column("sentiment", String(16)),  # this symbol's insight, when the vendor gives one
    Column("sentiment_reasoning", Text),
    _is_simulated(),
    _fetched_at(),
)

options_iv = Table(
    "options_iv",
    metadata,
    _symbol(),  # the underlying
    Column("date", Date, primary_key=True),  # session the snapshot describes
    Column("contract", String(40), primary_key=True),
    Column("expiration_date", Date, nullable=False),
    Column("strike", Float, nullable=False),
    Column("contract_type", String(8), nullable=False),
    Column("exercise_style", String(16)),
    Column("price", Float),  # the day's close of the contract
    Column("volume", Float),
    Column("open_interest", Float),
    Column("underlying_price", Float),
    Column("implied_volatility", Float),  # decimal: 0.357 is 35.7 %
    Column("delta", Float),
    Column("gamma", Float),
    Column("theta_per_day", Float),
    Column("vega_per_vol_point", Float),  # per 1 percentage point of volatility
    _is_simulated(),
    _fetched_at(),
)

options_iv_history = Table(
    "options_iv_history",
    metadata,
    _symbol(),
    Column("date", Date, primary_key=True),
    Column("contract", String(40), primary_key=True),
    Column("expiration_date", Date, nullable=False),
    Column("strike", Float, nullable=False),
    Column("contract_type", String(8), nullable=False),
    Column("option_close", Float, nullable=False),
    Column("underlying_close", Float, nullable=False),
    Column("time_to_expiry_years", Float, nullable=False),
    Column("risk_free_rate", Float, nullable=False),
    Column("dividend_yield", Float, nullable=False),
    Column("implied_volatility", Float),  # NULL when iv_status says why there is none
    Column("iv_status", String(24), nullable=False),
    Column("delta", Float),
    Column("gamma", Float),  # per 1.00 of underlying
    Column("vega_per_vol_point", Float),
    Column("theta_per_day", Float),  # per calendar day
    Column("rho_per_rate_point", Float),  # per 1 percentage point of rate
    _is_simulated(),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

adjustment_factors = Table(
    "adjustment_factors",
    metadata,
    _symbol(),
    Column("date", Date, primary_key=True),
    # Factor that multiplies prices dated before `date` to make them comparable with prices
    # on and after it (1.0 on days without an event). Prices of day d adjusted as of day D are
    # raw price × product of the factors of the sessions in (d, D].
    Column("split_factor", Float, nullable=False),
    Column("dividend_factor", Float, nullable=False),
    _is_simulated(),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

technical_indicators = Table(
    "technical_indicators",
    metadata,
    _symbol(),
    Column("date", Date, primary_key=True),
    Column("timeframe", String(2), primary_key=True),  # '1d' or '1w'
    Column("close_adjusted", Float),
    Column("ma_20", Float),
    Column("ma_50", Float),
    Column("ema_12", Float),
    Column("ema_26", Float),
    Column("rsi_14", Float),
    Column("bb_upper_20", Float),
    Column("bb_middle_20", Float),
    Column("bb_lower_20", Float),
    Column("volatility_20", Float),  # annualised close-to-close, decimal
    _is_simulated(),
    Column("computed_at", DateTime(timezone=True), nullable=False),
)

enrichment_status = Table(
    "enrichment_status",
    metadata,
    _symbol(),
    Column("dataset", String(32), primary_key=True),
    Column("last_success_at", DateTime(timezone=True)),
    Column("last_partition_date", Date),
    Column("row_count", BigInteger),  # rows in the table for this symbol, as of the last summary
    Column("last_error", Text),
    Column("last_error_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

enrichment_fetch_log = Table(
    "enrichment_fetch_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("endpoint", Text, nullable=False),  # path and query, never the key
    Column("dataset", String(32)),
    Column("symbol", String(40)),  # a ticker, or an option contract for option bars
    Column("status_code", Integer),
    Column("attempt", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("rows", Integer),
    Column("error", Text),
    Column("run_id", String(64)),
)

enrichment_compute_log = Table(
    "enrichment_compute_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    Column("dataset", String(32), nullable=False),
    Column("symbol", String(SYMBOL)),
    Column("partition_start", Date),
    Column("partition_end", Date),
    Column("rows", Integer, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("message", Text),
    Column("run_id", String(64)),
)

rejected_records = Table(
    "rejected_records",
    metadata,
    Column("dataset", String(32), primary_key=True),
    Column("record_hash", String(64), primary_key=True),  # sha256 of the raw record
    Column("symbol", String(SYMBOL)),
    Column("endpoint", Text),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=False),  # the raw record as JSON
    Column("rejected_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(64)),
)

api_rate_limit = Table(
    "api_rate_limit",
    metadata,
    Column("bucket", String(64), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),  # epoch seconds of the last refill
)

watchlist = Table(
    "watchlist",
    metadata,
    _symbol(),
    # 'env' rows follow ENRICHMENT_SYMBOLS; 'cli' rows were added or removed by
    # `enrichment-pipeline symbols add|remove` and outlive edits of the variable.
    Column("source", String(8), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Date column that places a row of each enrichment table in its (symbol × date) partition.
PARTITION_DATE_COLUMN: dict[str, str] = {
    "market_data": "date",
    "dividends": "ex_dividend_date",
    "stock_splits": "execution_date",
    "earnings": "filing_date",
    "news": "date",
    "options_iv": "date",
    "options_iv_history": "date",
    "adjustment_factors": "date",
    "technical_indicators": "date",
}
