from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _request(email_request_context):
    yield
