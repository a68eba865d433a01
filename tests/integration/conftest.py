from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from storefront.app import create_app
from storefront.settings import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def server_errors(client: TestClient[Any], caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """What the shop logs as errors while a test runs (attached after the app configured logging)."""
    logger = logging.getLogger("storefront")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="storefront")
    yield caplog.records  # the live list: read it after the requests
    logger.removeHandler(caplog.handler)
