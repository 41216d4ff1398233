"""Jobs: the daily enrichment, the status summary and the options retention."""

from dagster import AssetSelection, define_asset_job

ENRICHMENT_GROUPS = ("polygon", "analytics")

daily_enrichment_job = define_asset_job(
    name="daily_enrichment",
    selection=AssetSelection.groups(*ENRICHMENT_GROUPS),
    description="Every enrichment table and its indicators for a rectangle of symbols × trading days; "
    "the schedule runs it once a day for all watched symbols.",
)

enrichment_status_job = define_asset_job(
    name="enrichment_status_refresh",
    selection=AssetSelection.assets("enrichment_status"),
    description="Rebuild the per symbol × dataset status summary.",
)
