"""What a DLQ message becomes for the operator (shared/bus/dead_letters.py; R-13), without I/O:
a consumer's refusal and the broker's own dead-lettering (delivery limit), the identity that
makes keeping idempotent yet lets a replay that fails again come back, and the replay's headers.
The store and broker path is tested end to end in tests/ops/test_dead_letters.py."""

from __future__ import annotations

import datetime as dt

from shared.bus import dead_letters as dl
from shared.bus.topology import RETRY_COUNT_HEADER, RETRY_QUEUE_HEADER, TOPOLOGY

SPEC = TOPOLOGY.get("intake.packages")


def entry(headers: dict, *, body: bytes = b'{"a": 1}', message_id: str | None = "m-1") -> dict:
    return dl.describe(SPEC, "intake", body=body, headers=headers, message_id=message_id,
                       message_type="gateway.PackageReceived.v1", routing_key="intake.packages.dlq", correlation_id="c-1")


def test_a_consumers_refusal_keeps_its_reason_queue_and_original_routing_key():
    found = entry({"x-failure-reason": "undecodable message: x", "x-failed-queue": "intake.packages.urgent",
                   "x-failed-at": "2026-12-01T08:00:00+00:00", RETRY_COUNT_HEADER: 2,
                   "x-original-routing-key": "urgent.gateway.package.received"})
    assert found["reason"] == "undecodable message: x"
    assert found["failed_queue"] == "intake.packages.urgent" and found["queue"] == "intake.packages"
    assert found["routing_key"] == "urgent.gateway.package.received"  # not the DLQ's own key
    assert found["failed_at"] == dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
    assert found["retry_count"] == 2 and found["replays"] == 0 and found["state"] == "open"
    assert found["body_text"] == '{"a": 1}'


def test_the_brokers_own_dead_lettering_is_explained_from_x_death():
    died = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    found = entry({"x-death": [{"queue": "intake.packages", "reason": "delivery_limit", "count": 1, "time": died,
                                "routing-keys": [b"normal.gateway.package.received"], "exchange": "vanthu.events"}],
                   "x-first-death-queue": b"intake.packages", "x-first-death-reason": b"delivery_limit"})
    assert found["reason"] == "broker dead-lettered the message: delivery_limit"
    assert found["failed_queue"] == "intake.packages" and found["failed_at"] == died
    assert found["routing_key"] == "normal.gateway.package.received"
    assert found["headers"]["x-death"][0]["routing-keys"] == ["normal.gateway.package.received"]  # bytes made text


def test_the_same_failure_is_one_entry_and_a_replayed_one_failing_again_a_new_one():
    refusal = {"x-failure-reason": "r", "x-failed-queue": "intake.packages"}
    assert entry(refusal)["_id"] == entry(refusal)["_id"]  # redelivered from the DLQ: kept once
    assert entry({**refusal, dl.REPLAYS_HEADER: 1})["_id"] != entry(refusal)["_id"]
    assert entry(refusal, message_id="m-2")["_id"] != entry(refusal)["_id"]
    anonymous = entry(refusal, message_id=None, body=b"x")
    assert anonymous["message_id"].startswith("sha256:")


def test_a_body_that_is_not_text_is_kept_as_bytes_and_shown_as_base64():
    found = entry({"x-failure-reason": "r"}, body=b"\xff\xfe\x00")
    assert found["body_text"] is None and found["body"] == b"\xff\xfe\x00"
    shown = dl.public(found)
    assert shown["body_encoding"] == "base64" and shown["body"] == "//4A" and shown["body_size"] == 3
    assert dl.plain(b"\xff") == "base64:/w=="


def test_a_replay_goes_back_to_the_failed_queue_with_its_retries_started_again():
    found = entry({"x-failure-reason": "r", "x-failed-queue": "intake.packages.urgent", "x-failed-at": "2026-12-01T08:00:00",
                   "x-last-error": "e", RETRY_COUNT_HEADER: 5, "x-death": [{"reason": "rejected"}], "x-trace": "keep"})
    headers = dl.replay_headers({**found, "replays": 2}, "user:vanhanh")
    assert headers[RETRY_QUEUE_HEADER] == "intake.packages.urgent" and headers[RETRY_COUNT_HEADER] == 0
    assert headers[dl.REPLAYS_HEADER] == 3 and headers["x-replayed-by"] == "user:vanhanh"
    assert headers["x-trace"] == "keep"
    for gone in ("x-failure-reason", "x-failed-queue", "x-failed-at", "x-last-error", "x-death"):
        assert gone not in headers
