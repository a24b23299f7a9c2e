"""Ready-made signing operations built from the adapters (placement + stamp + PAdES + rules).
Handlers call these; each returns the signed PDF bytes.

- `sign_as_leader`: the competent person's signature into the document's leader field
  (blue signature image, NĐ 30 Phụ lục I II.7(d)).
- `sign_as_agency`: the agency signature on a main document — refused unless a valid leader
  signature is already there (R-8.3c); red seal over the left third of the leader's image.
- `sign_annex`, `sign_copy`: agency signature on a separate-file annex / an official e-copy —
  text only, top-right of page 1 (II.8, Phần II).
- `sign_digitised`: agency signature on a digitised paper document — seal, name and time at the
  top-left of page 1 (R-6.5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from services.signing.adapters.inspection import TrustSettings, check_agency_may_sign
from services.signing.adapters.keys import SigningKey
from services.signing.adapters.pades import (
    SignatureFieldError,
    find_signature_field,
    list_signature_fields,
    page_size,
    sign_pdf,
)
from services.signing.adapters.stamps import (
    render_agency_stamp,
    render_annex_stamp,
    render_copy_stamp,
    render_leader_stamp,
)
from services.signing.domain.appearance import VN_TZ
from services.signing.domain.placement import (
    Margins,
    agency_seal_box,
    annex_text_box,
    digitised_seal_box,
)
from services.signing.domain.rules import Decision
from shared.pdfdocs import LEADER_FIELD

AGENCY_FIELD = "ChuKyCoQuan"


class AgencySignatureRefused(Exception):
    """R-8.3c refused the agency signature; `decision` carries the reasons (vi/en)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason_en)
        self.decision = decision


def _now(signing_time: dt.datetime | None) -> dt.datetime:
    return (signing_time or dt.datetime.now(VN_TZ)).astimezone(VN_TZ).replace(microsecond=0)


def _free_name(pdf: bytes, base: str) -> str:
    taken = {f.name for f in list_signature_fields(pdf)}
    if base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


async def sign_as_leader(
    pdf: bytes,
    *,
    key: SigningKey,
    signature_png: bytes,
    field_name: str = LEADER_FIELD,
    reason: str | None = None,
    location: str | None = None,
    signing_time: dt.datetime | None = None,
    **sign_kwargs,
) -> bytes:
    field = find_signature_field(pdf, field_name)
    if field is None or field.box is None:
        raise SignatureFieldError(f"no visible signature field {field_name!r} in the document")
    stamp = render_leader_stamp(signature_png, (field.box.width, field.box.height))
    return await sign_pdf(
        pdf,
        signer=key,
        field_name=field_name,
        stamp_png=stamp.png,
        reason=reason,
        location=location,
        signing_time=_now(signing_time),
        **sign_kwargs,
    )


async def sign_as_agency(
    pdf: bytes,
    *,
    key: SigningKey,
    trust: TrustSettings,
    agency_name: str,
    seal_png: bytes,
    leader_key_ids: Iterable[str] | None = None,
    field_name: str = AGENCY_FIELD,
    reason: str | None = None,
    location: str | None = None,
    signing_time: dt.datetime | None = None,
    **sign_kwargs,
) -> bytes:
    """Raises AgencySignatureRefused when R-8.3c is not met."""
    decision, _ = await check_agency_may_sign(
        pdf, trust, agency_key_ids=[key.key_id], leader_key_ids=leader_key_ids
    )
    if not decision.allowed:
        raise AgencySignatureRefused(decision)
    leader_field = find_signature_field(pdf, decision.leader_signature.field_name)
    if leader_field is None or leader_field.box is None:
        raise SignatureFieldError("the leader's signature has no visible field to place the seal on")
    moment = _now(signing_time)
    stamp, layout = render_agency_stamp(seal_png, agency_name, moment)
    box = agency_seal_box(leader_field.box, layout, page=page_size(pdf, leader_field.page))
    return await sign_pdf(
        pdf,
        signer=key,
        field_name=_free_name(pdf, field_name),
        box=box,
        page=leader_field.page,
        stamp_png=stamp.png,
        reason=reason,
        location=location,
        signing_time=moment,
        **sign_kwargs,
    )


async def sign_annex(
    pdf: bytes,
    *,
    key: SigningKey,
    number_notation: str,
    margins: Margins = Margins(),  # noqa: B008
    field_name: str = AGENCY_FIELD,
    signing_time: dt.datetime | None = None,
    **sign_kwargs,
) -> bytes:
    moment = _now(signing_time)
    stamp = render_annex_stamp(number_notation, moment)
    box = annex_text_box(page_size(pdf, 0), stamp.size, margins)
    return await sign_pdf(
        pdf, signer=key, field_name=_free_name(pdf, field_name), box=box, page=0,
        stamp_png=stamp.png, signing_time=moment, **sign_kwargs,
    )


async def sign_copy(
    pdf: bytes,
    *,
    key: SigningKey,
    copy_form: str,
    agency_name: str,
    margins: Margins = Margins(),  # noqa: B008
    field_name: str = AGENCY_FIELD,
    signing_time: dt.datetime | None = None,
    **sign_kwargs,
) -> bytes:
    moment = _now(signing_time)
    stamp = render_copy_stamp(copy_form, agency_name, moment)
    box = annex_text_box(page_size(pdf, 0), stamp.size, margins)
    return await sign_pdf(
        pdf, signer=key, field_name=_free_name(pdf, field_name), box=box, page=0,
        stamp_png=stamp.png, signing_time=moment, **sign_kwargs,
    )


async def sign_digitised(
    pdf: bytes,
    *,
    key: SigningKey,
    agency_name: str,
    seal_png: bytes,
    margins: Margins = Margins(),  # noqa: B008
    field_name: str = AGENCY_FIELD,
    signing_time: dt.datetime | None = None,
    **sign_kwargs,
) -> bytes:
    moment = _now(signing_time)
    stamp, _ = render_agency_stamp(seal_png, agency_name, moment)
    box = digitised_seal_box(page_size(pdf, 0), stamp.size, margins)
    return await sign_pdf(
        pdf, signer=key, field_name=_free_name(pdf, field_name), box=box, page=0,
        stamp_png=stamp.png, signing_time=moment, **sign_kwargs,
    )
