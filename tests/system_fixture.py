"""The whole system for each module that asks for it (`system`): every service, the portal, the
local axis and the local time-stamping server as separate processes on free ports, against the
session's real broker (own virtual host) and store (own database prefix). One definition, used by
tests/e2e and tests/access through their conftest.py."""

from __future__ import annotations

import uuid

import pytest

from devstack.stack import StackOptions, start_stack
from staff_http import http


@pytest.fixture(scope="module")
def system(tmp_path_factory, mongodb_url, amqp_url):
    var = tmp_path_factory.mktemp("system")
    stack = start_stack(StackOptions.isolated(var, amqp_url=amqp_url, mongodb_url=mongodb_url,
                                              database_prefix=f"e2e{uuid.uuid4().hex[:8]}", axis_poll_interval=0.5))
    urls = {name: stack.env[f"{name.upper()}_URL"] for name in ("gateway", "intake", "dispatch", "signing", "archive", "portal")}
    urls["axis"] = stack.env["AXIS_URL"]
    http.use_keys(stack.env["AUTH_KEYS_DIR"])  # calls carry staff tokens
    yield stack, urls
    stack.stop_all()
