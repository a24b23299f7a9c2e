"""Fixtures of the portal's tests: the portal alone, in process, on the real store."""

from __future__ import annotations

import pytest
from portal_client import running_portal
from system_fixture import system  # noqa: F401  (the whole system, for test_portal_e2e.py)


@pytest.fixture
def portal_settings(settings):
    # plain http in process: the test client (like Python's cookie jar) keeps Secure cookies for https only
    return settings.model_copy(update={"portal_cookie_secure": False})


@pytest.fixture
async def portal(portal_settings):
    async with running_portal(portal_settings) as app:
        yield app
