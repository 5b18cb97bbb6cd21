from __future__ import annotations

import pytest

from tests.mail_sink import sink  # noqa: F401 - shared fixture


@pytest.fixture(autouse=True)
def _request(email_request_context):
    yield
