"""The operator's console in a real browser (issue 7 item 3, "a browser test of the operator
console replaying a dead letter"; R-13): a message intake cannot read lands in its dead letters;
the operator — signing in for the first time, so changing the initial password first (R-15.2) —
sees it on the console with its reason, opens it (headers, body), replays it with a reason after
confirming, and sees it replayed by them; the replay reaches intake again, fails the same way and
comes back as a new dead letter. Screenshots under test-artifacts/screenshots/."""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import aio_pika
import pytest
from playwright.sync_api import expect

from shared.bus.dead_letters import entry_id
from shared.bus.topology import EVENTS_EXCHANGE
from shared.contracts.messages import PackageReceived
from tests.browser.test_staff_flow import PHONE, person, reload_until, shot

pytestmark = pytest.mark.e2e


def publish_unreadable(amqp_url: str, message_id: str) -> None:
    async def send() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EVENTS_EXCHANGE)
            body = f'{{"package_id": "console-{message_id[:6]}", "package": '.encode()  # cut short
            await exchange.publish(aio_pika.Message(body, message_id=message_id, type=PackageReceived.type_name,
                                                    content_type="application/json",
                                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                   routing_key="normal.gateway.package.received", mandatory=True)

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's event loop
        pool.submit(asyncio.run, send()).result(timeout=60)


def test_the_operator_replays_a_dead_letter_in_the_browser(system, chromium):
    stack, urls = system
    message_id = uuid.uuid4().hex
    publish_unreadable(stack.env["AMQP_URL"], message_id)
    first, again = entry_id("intake.packages", message_id, 0), entry_id("intake.packages", message_id, 1)

    operator = person(chromium, urls["portal"], "vanhanh")
    expect(operator).to_have_url(re.compile(r"/van-hanh(\?|$)"))
    reload_until(operator, "/van-hanh", lambda p: p.locator(f"#dead-letter-{first}").count() == 1,
                 what="the dead letter on the console")
    row = operator.locator(f"#dead-letter-{first}")
    expect(row).to_contain_text("undecodable message")
    expect(row).to_contain_text("intake.packages")
    expect(operator.locator("#service-status")).to_contain_text("Sẵn sàng")
    expect(operator.locator("#queues")).to_contain_text("intake.packages.dlq")
    shot(operator, "operator-console")

    operator.click(f"#link-dead-letter-{first}")
    expect(operator.locator("#dead-letter-state")).to_have_text("Đang chờ xử lý")
    expect(operator.locator("#dead-letter-reason")).to_contain_text("undecodable message")
    expect(operator.locator("#dead-letter-headers")).to_contain_text("x-failure-reason")
    expect(operator.locator("#dead-letter-body")).to_contain_text(f"console-{message_id[:6]}")
    shot(operator, "operator-dead-letter")

    operator.click("#button-replay")  # no reason: the browser asks for one (required field), nothing is sent
    expect(operator.locator("#dead-letter-state")).to_have_text("Đang chờ xử lý")
    reason = "Đã kiểm tra nguyên nhân, phát lại để xác nhận"
    operator.fill("#replay-reason", reason)
    operator.click("#button-replay")
    expect(operator.locator("#confirm-reason")).to_have_text(reason)
    shot(operator, "operator-dead-letter-confirm")
    operator.click("#button-confirm")
    expect(operator.locator("#notice")).to_contain_text("Đã phát lại")
    expect(operator.locator("#dead-letter-state")).to_have_text("Đã phát lại")
    expect(operator.locator("#dead-letter-outcome")).to_contain_text("user:vanhanh")
    expect(operator.locator("#dead-letter-outcome")).to_contain_text(reason)
    expect(operator.locator("#form-replay")).to_have_count(0)  # done once, not again
    shot(operator, "operator-dead-letter-replayed")

    # the replay reached intake again and, still unreadable, came back as a new dead letter
    reload_until(operator, "/van-hanh", lambda p: p.locator(f"#dead-letter-{again}").count() == 1,
                 what="the replayed message back as a new dead letter")
    expect(operator.locator(f"#dead-letter-{first}")).to_have_count(0)
    expect(operator.locator(f"#handled-{first}")).to_contain_text("Đã phát lại")
    shot(operator, "operator-console-after-replay")
    operator.set_viewport_size(PHONE)
    shot(operator, "operator-console-phone")
