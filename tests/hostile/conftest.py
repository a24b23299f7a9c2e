"""The hostile-input modules share one whole system (tests/system_fixture.py's, started once for
the package instead of once per module: two stack starts would cost minutes on a loaded machine).
What the fuzzing leaves behind (drafts, refused documents) never changes what the corpus asserts."""

from __future__ import annotations

import uuid

import pytest

from devstack.stack import StackOptions, start_stack
from staff_http import http


@pytest.fixture(scope="package")
def system(tmp_path_factory, mongodb_url, amqp_url):
    var = tmp_path_factory.mktemp("system")
    stack = start_stack(StackOptions.isolated(var, amqp_url=amqp_url, mongodb_url=mongodb_url,
                                              database_prefix=f"hostile{uuid.uuid4().hex[:8]}", axis_poll_interval=0.5))
    urls = {name: stack.env[f"{name.upper()}_URL"] for name in ("gateway", "intake", "dispatch", "signing", "archive", "portal")}
    urls["axis"] = stack.env["AXIS_URL"]
    http.use_keys(stack.env["AUTH_KEYS_DIR"])  # calls carry staff tokens
    yield stack, urls
    stack.stop_all()
