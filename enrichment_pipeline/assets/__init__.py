"""Every asset of the project, in lineage order."""

from enrichment_pipeline.assets.derived import adjustment_factors, technical_indicators
from enrichment_pipeline.assets.option_history import options_iv_history, polygon_option_prices
from enrichment_pipeline.assets.status import enrichment_status
from enrichment_pipeline.assets.vendor import vendor_assets

all_assets = [*vendor_assets, polygon_option_prices, adjustment_factors, technical_indicators, options_iv_history, enrichment_status]
