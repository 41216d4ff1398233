import pytest

from enrichment_pipeline.settings import SettingsError
from enrichment_pipeline.storage.engine import create_database_engine
from enrichment_pipeline.storage.migrate import upgrade_database


def test_an_unreachable_database_says_what_to_fix_without_the_password():
    engine = create_database_engine("postgresql://someone:s3cr3t-pw@127.0.0.1:1/nowhere")
    with pytest.raises(SettingsError) as caught:
        upgrade_database(engine)
    message = str(caught.value)
    assert "DATABASE_URL" in message and "127.0.0.1:1" in message
    assert "s3cr3t-pw" not in message


@pytest.mark.parametrize("url", ["not a url", "mysql+nodriver://x@y/z"])
def test_a_malformed_database_url_is_refused_clearly(url):
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        create_database_engine(url)
