"""The suite's own RabbitMQ node (one per session; each run its own virtual hosts)."""

from __future__ import annotations

import pytest

from tests.resilience.broker import OwnBroker, available


@pytest.fixture(scope="session")
def own_broker(tmp_path_factory):
    if not available():
        pytest.skip("RabbitMQ is not installed (apt-get install -y rabbitmq-server)")
    broker = OwnBroker(tmp_path_factory.mktemp("rabbitmq")).start()
    yield broker
    broker.stop()
