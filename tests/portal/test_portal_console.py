"""The operator's console in process (issue 7 item 3; R-13): the portal on the real store, the
services' `/ops/…` answers recorded (test_portal_pages.RecordedServices), RabbitMQ's management API
real (the session's virtual host). The operator sees each service's version and replicas, queue
depths, dead letters with their reason, the axis link ("chưa có" when the gateway says nothing),
the token and certificates, recent errors merged newest first; inspects a dead letter (headers,
body pretty-printed) and replays or discards it with a required reason after a confirmation page.
The browser test replays a real one end to end (tests/browser/test_operator_console.py)."""

from __future__ import annotations

import asyncio
import re
import uuid

import aio_pika
import httpx
import pytest
from portal_client import csrf_of, running_portal, signed_in
from test_portal_pages import ANSWERS, RecordedServices


class Recording(RecordedServices):
    """Also keeps the JSON body of each change."""

    def __init__(self, answers: dict | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bodies: list[tuple[str, str, dict | None]] = []
        self.answers = answers

    async def request(self, caller, service, method, path, **kwargs):
        if method == "POST":
            self.bodies.append((service, path, kwargs.get("json")))
        if self.answers is not None and service not in self.silent and method == "GET" and (service, path) in self.answers:
            self.calls.append((caller.user, method, service, path))
            return httpx.Response(200, json=self.answers[(service, path)])
        return await super().request(caller, service, method, path, **kwargs)


@pytest.fixture
async def console(settings):
    async with running_portal(settings.model_copy(update={"portal_cookie_secure": False})) as app:
        app.state.ctx.extras["services"] = Recording()
        yield app


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_console_shows_services_dead_letters_axis_token_and_recent_errors(console):
    async with signed_in(console, "vanhanh") as operator:
        page = await operator.get("/van-hanh")
    assert page.status_code == 200, page.text[:2000]
    html, text = page.text, text_of(page.text)
    assert "Mọi dịch vụ đang sẵn sàng." in text
    version = re.search(r'id="version-intake">(.*?)</td>', html, re.S).group(1)
    assert "0.1.0" in version and "abc123def456" in version
    # the dead letter, with its reason and a link to inspect it
    row = re.search(r'<tr id="dead-letter-dl-1">(.*?)</tr>', html, re.S).group(1)
    assert "undecodable message: Invalid JSON" in row and "intake.packages" in row
    assert 'href="/van-hanh/thong-diep-loi/intake/dl-1"' in row
    assert re.search(r'id="count-open-letters">1<', html)
    # the axis link and its last successful poll; the token and a certificate expiring within 30 days
    assert "Kết nối được" in re.search(r'id="axis-state">(.*?)</dd>', html, re.S).group(1)
    assert re.search(r'id="axis-last-success">\d\d:\d\d 01/12/2026<', html)
    assert "Dùng được" in re.search(r'id="token-state">(.*?)</dd>', html, re.S).group(1)
    assert re.search(r'<table class="responsive" id="certificates">.*UBND xã Hoằng Đức.*badge indeterminate">20.5<', html, re.S)
    # recent errors of every service, newest first
    errors = re.search(r'id="recent-errors">(.*?)</table>', html, re.S).group(1)
    assert errors.index("axis send failed") < errors.index("message dead-lettered")
    assert 'id="link-grafana"' not in html  # no Grafana configured: the console stands alone


async def test_without_the_gateways_facts_the_axis_says_not_yet_and_a_silent_service_leaves_the_page_up(settings):
    answers = {**ANSWERS, ("gateway", "/ops/status"): {"service": "gateway", "recent_errors": []}}
    update = {"portal_cookie_secure": False, "grafana_url": "http://grafana.example/d/vanthu",
              "rabbitmq_management_url": "http://127.0.0.1:9/"}  # nothing listens there
    async with running_portal(settings.model_copy(update=update)) as app:
        app.state.ctx.extras["services"] = Recording(answers, silent=("signing",))
        async with signed_in(app, "vanhanh") as operator:
            page = await operator.get("/van-hanh")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "Trạng thái kết nối trục: chưa có." in text
    assert "Trạng thái thiết bị ký số: chưa có." in text and "Có dịch vụ chưa sẵn sàng." in text
    assert 'id="broker-error"' in page.text and "Không đọc được hàng đợi từ RabbitMQ" in text
    assert 'href="http://grafana.example/d/vanthu" id="link-grafana"' in page.text


async def test_the_queues_come_from_the_brokers_management_api(console, amqp_url):
    name = f"ops-console-{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, durable=False, auto_delete=False)
        for n in range(3):
            await channel.default_exchange.publish(aio_pika.Message(f"m{n}".encode()), routing_key=name)
        async with signed_in(console, "vanhanh") as operator:
            for _ in range(30):  # the management API's figures lag the broker by a moment
                page = await operator.get("/van-hanh")
                row = re.search(rf'<tr id="queue-{re.escape(name)}">(.*?)</tr>', page.text, re.S)
                if row and re.search(r'data-label="Số thông điệp">3<', row.group(1)):
                    break
                await asyncio.sleep(1)
            else:
                raise AssertionError(f"queue {name} with 3 messages not shown: {page.text[:3000]}")
        assert 'id="broker-error"' not in page.text
        assert re.search(r'data-label="Bên nhận"><span class="badge indeterminate">0<', row.group(1))  # nobody consumes it
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()


async def test_a_dead_letter_is_inspected_then_replayed_or_discarded_with_a_reason_after_confirming(console):
    recorded: Recording = console.state.ctx.extras["services"]
    async with signed_in(console, "vanhanh") as operator:
        page = await operator.get("/van-hanh/thong-diep-loi/intake/dl-1")
        assert page.status_code == 200
        html = page.text
        assert "undecodable message: Invalid JSON" in re.search(r'id="dead-letter-reason">(.*?)</dd>', html, re.S).group(1)
        body = re.search(r'<pre id="dead-letter-body" class="body">(.*?)</pre>', html, re.S).group(1)
        assert '\n  &#34;package_id&#34;: &#34;p-1&#34;,' in body or '\n  "package_id": "p-1",' in body  # indented JSON
        assert "x-failure-reason" in re.search(r'id="dead-letter-headers">(.*?)</table>', html, re.S).group(1)
        token = csrf_of(html)
        for form in ("form-replay", "form-discard"):  # each form carries the session's CSRF token itself
            found = re.search(rf'<form [^>]*id="{form}">(.*?)</form>', html, re.S).group(1)
            assert f'name="csrf_token" value="{token}"' in found and token, form

        for action, verb in (("phat-lai", "replay"), ("huy-bo", "discard")):
            base = f"/van-hanh/thong-diep-loi/intake/dl-1/{action}"
            missing = await operator.post(base, data={"csrf_token": token, "reason": "   "})
            assert missing.status_code == 422 and "Ghi lý do" in missing.text
            confirm = await operator.post(base, data={"csrf_token": token, "reason": "Đã sửa cấu hình"})
            assert confirm.status_code == 200 and 'id="button-confirm"' in confirm.text
            confirm_form = re.search(r'<form [^>]*id="form-confirm">(.*?)</form>', confirm.text, re.S).group(1)
            assert f'name="csrf_token" value="{token}"' in confirm_form
            assert "Đã sửa cấu hình" in confirm.text
            assert not [b for b in recorded.bodies if b[1].endswith(f"/{verb}")]  # nothing done before confirming
            done = await operator.post(base, data={"csrf_token": token, "reason": "Đã sửa cấu hình", "confirm": "yes"})
            assert done.status_code == 303
            notice = {"replay": "dead_letter_replayed", "discard": "dead_letter_discarded"}[verb]
            assert done.headers["location"] == f"/van-hanh/thong-diep-loi/intake/dl-1?tb={notice}"
            assert ("intake", f"/ops/dead-letters/dl-1/{verb}", {"reason": "Đã sửa cấu hình"}) in recorded.bodies
        forged = await operator.post("/van-hanh/thong-diep-loi/intake/dl-1/phat-lai",
                                     data={"csrf_token": "x", "reason": "r", "confirm": "yes"})
        assert forged.status_code == 403  # CSRF
        assert (await operator.get("/van-hanh/thong-diep-loi/portal/dl-1")).status_code == 404
    assert all(user == "vanhanh" for user, method, *_ in recorded.calls if method == "POST")
    async with signed_in(console, "vanthu") as clerk:
        token = csrf_of((await clerk.get("/van-thu")).text)
        assert (await clerk.get("/van-hanh/thong-diep-loi/intake/dl-1")).status_code == 403
        refused = await clerk.post("/van-hanh/thong-diep-loi/intake/dl-1/phat-lai",
                                   data={"csrf_token": token, "reason": "r", "confirm": "yes"})
        assert refused.status_code == 403
    assert len([b for b in recorded.bodies if b[1].endswith("/replay")]) == 1
