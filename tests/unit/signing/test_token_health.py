"""The token check behind `vanthu_token_available` and the console's token facts (R-13): it
goes through PKCS#11 to the real SoftHSM2 token, and says "unavailable" with the reason when the
token or a key is not there; the certificates' days left come from the keys on the token and
the trust roots' files."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from prometheus_client import REGISTRY

from services.signing.adapters import token_setup
from services.signing.adapters.token import TokenKeyRing
from services.signing.handlers.token_health import _check_token, token_facts
from shared.config import Settings


async def test_the_open_token_answers_with_every_key(keyring):
    assert sorted(await asyncio.to_thread(keyring.check)) == ["agency", "chairman"]
    assert await _check_token(keyring) == (True, None)


async def test_a_token_that_is_not_there_is_unavailable_with_the_reason(token_env):
    ring = TokenKeyRing(token_label="no-such-token", user_pin="0000", module_path=token_env.module_path)
    ring.key("agency")
    available, error = await _check_token(ring)
    assert available is False and "no-such-token" in error


async def test_a_key_missing_from_the_token_makes_it_unavailable(token_env):
    ring = TokenKeyRing(token_label=token_env.token_label, user_pin=token_setup.DEV_USER_PIN, module_path=token_env.module_path)
    ring.key("agency")
    ring.key("vice-chairman")  # no such key on the token
    available, error = await _check_token(ring)
    assert available is False and "vice-chairman" in error and "agency" not in error


async def test_token_facts_and_gauges_come_from_one_computation(keyring, token_env, tmp_path):
    settings = Settings(token_label=token_env.token_label, token_module=token_env.module_path,
                        token_config_dir=token_env.config_dir, trust_roots=[token_env.ca_cert], tsa_url=None,
                        var_dir=tmp_path)
    facts = await token_facts(SimpleNamespace(settings=settings, extras={"ring": keyring}))
    assert facts["token"]["available"] is True and facts["token"]["error"] is None
    assert REGISTRY.get_sample_value("vanthu_token_available") == 1
    keys = {c["key"]: c for c in facts["certificates"] if c["kind"] == "key"}
    assert set(keys) == {"agency", "chairman"}
    for label, cert in keys.items():
        assert cert["days_left"] > 0
        assert REGISTRY.get_sample_value("vanthu_certificate_days_left", {"kind": "key", "certificate": label}) == cert["days_left"]
    # The token's CA and the same file configured as a trust root: both listed with their days.
    assert {c["kind"] for c in facts["certificates"]} == {"key", "ca", "trust_root"}

    absent = await token_facts(SimpleNamespace(settings=settings, extras={}))
    assert absent["token"]["available"] is False and absent["token"]["error"]
    assert REGISTRY.get_sample_value("vanthu_token_available") == 0
