"""PAdES signing of PDFs with pyHanko (B-B now; pass a `timestamper` for B-T later).

Every signature is an incremental update, so earlier signatures stay intact. The visible
appearance is a PNG drawn by adapters.stamps and placed with a static stamp style (no pyHanko
text rendering: it garbles Vietnamese). The CMS size is reserved up front (`bytes_reserved`),
which skips pyHanko's size-estimating dry run (about 2x faster, stack.md).

The blocking part (parse, digest, token signature, write) runs in the key's worker thread
(`SigningKey.run`), never on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import uuid
from dataclasses import dataclass
from functools import partial

from PIL import Image
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.stamp import StaticStampStyle

from services.signing.adapters.keys import InMemoryKey, SigningKey
from services.signing.domain.appearance import VN_TZ
from services.signing.domain.placement import Box, PageSize

# Hex characters reserved for the CMS blob: an RSA-2048 signature with its certificate and a
# 3072-bit CA certificate is ~4 KB DER (8 K hex); a timestamp token adds ~4-6 KB DER.
BYTES_RESERVED = 16 * 1024
BYTES_RESERVED_TIMESTAMP = 16 * 1024


class SignatureFieldError(ValueError):
    pass


@dataclass(frozen=True)
class SignatureField:
    name: str
    page: int  # 0-based
    box: Box | None  # None for an invisible field
    signed: bool


# --- reading fields and pages ---------------------------------------------------------------


def _page_refs(reader: PdfFileReader) -> list[generic.Reference]:
    """References of all pages, in document order (one walk of the page tree)."""
    out: list[generic.Reference] = []
    seen: set[generic.Reference] = set()

    def walk(node_ref: generic.IndirectObject) -> None:
        if node_ref.reference in seen:
            raise SignatureFieldError("circular page tree")
        seen.add(node_ref.reference)
        node = node_ref.get_object()
        if node.get("/Type") == "/Pages" or "/Kids" in node:
            for kid in node.raw_get("/Kids"):
                walk(kid)
        else:
            out.append(node_ref.reference)

    walk(reader.root.raw_get("/Pages"))
    return out


def _widget(field_ref: generic.IndirectObject) -> tuple[generic.Reference, generic.DictionaryObject]:
    """The (first) widget annotation of a signature field: the field itself when merged."""
    field = field_ref.get_object()
    if "/Kids" in field and "/Rect" not in field:
        kid = field.raw_get("/Kids")[0]
        return kid.reference, kid.get_object()
    return field_ref.reference, field


def _widget_page(widget_ref, widget, pages: list[generic.Reference], reader: PdfFileReader) -> int:
    if "/P" in widget:
        target = widget.raw_get("/P")
        if isinstance(target, generic.IndirectObject) and target.reference in pages:
            return pages.index(target.reference)
    for i, page_ref in enumerate(pages):  # /P is optional: look in the pages' /Annots
        annots = reader.get_object(page_ref).get("/Annots")
        if annots is None:
            continue
        for annot in annots.get_object() if isinstance(annots, generic.IndirectObject) else annots:
            if isinstance(annot, generic.IndirectObject) and annot.reference == widget_ref:
                return i
    return 0


def list_signature_fields(pdf: bytes) -> list[SignatureField]:
    """Signature fields (signed or empty) with their page (0-based) and box in points."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    pages = _page_refs(reader)
    out: list[SignatureField] = []
    for name, value, field_ref in enumerate_sig_fields(reader, filled_status=None):
        widget_ref, widget = _widget(field_ref)
        box = None
        rect = widget.get("/Rect")
        if rect is not None:
            x1, y1, x2, y2 = (float(v) for v in rect)
            if x1 != x2 and y1 != y2:
                box = Box.of((x1, y1, x2, y2))
        page = _widget_page(widget_ref, widget, pages, reader)
        out.append(SignatureField(name, page, box, value is not None))
    return out


def find_signature_field(pdf: bytes, name: str) -> SignatureField | None:
    return next((f for f in list_signature_fields(pdf) if f.name == name), None)


def page_size(pdf: bytes, page: int = 0) -> PageSize:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    page_obj = reader.find_page_for_modification(page)[0].get_object()
    box = page_obj.get("/CropBox") or _inherited(page_obj, "/MediaBox")
    x1, y1, x2, y2 = (float(v) for v in box)
    return PageSize(abs(x2 - x1), abs(y2 - y1))


def _inherited(node, key):
    while node is not None:
        if key in node:
            return node[key]
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
    raise SignatureFieldError(f"page has no {key}")


# --- signing ------------------------------------------------------------------------------


def _stamp_style(stamp_png: bytes | None, box: Box | None) -> StaticStampStyle:
    if stamp_png is None or box is None:
        return StaticStampStyle(border_width=0, background=None)
    img = Image.open(io.BytesIO(stamp_png))
    img.load()
    if img.mode not in ("RGBA", "RGB", "LA", "L"):
        img = img.convert("RGBA")
    background = PdfImage(img, box=layout.BoxConstraints(width=box.width, height=box.height))
    return StaticStampStyle(
        border_width=0,
        background=background,
        background_opacity=1.0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins.uniform(0),
            inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT,
        ),
    )


async def _sign_async(
    signer: Signer,
    *,
    pdf: bytes,
    field_name: str,
    new_field: SigFieldSpec | None,
    appearance_box: Box | None,
    stamp_png: bytes | None,
    reason: str | None,
    location: str | None,
    contact_info: str | None,
    signing_time: dt.datetime,
    timestamper: TimeStamper | None,
    bytes_reserved: int | None,
    strict: bool,
) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=strict)
    meta = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        contact_info=contact_info,
    )
    pdf_signer = PdfSigner(
        meta,
        signer=signer,
        timestamper=timestamper,
        stamp_style=_stamp_style(stamp_png, appearance_box),
        new_field_spec=new_field,
    )
    # The steps of PdfSigner.async_sign_pdf, with the signing time fixed to the one shown in
    # the stamp (pyHanko would take "now" itself).
    session = pdf_signer.init_signing_session(writer, existing_fields_only=new_field is None)
    session.system_time = signing_time
    validation_info = await session.perform_presign_validation(writer)
    if bytes_reserved is None:
        bytes_reserved = await session.estimate_signature_container_size(
            validation_info, tight=meta.tight_size_estimates
        )
    tbs = session.prepare_tbs_document(validation_info=validation_info, bytes_reserved=bytes_reserved)
    prepared, output = tbs.digest_tbs_document(output=io.BytesIO())
    post = await tbs.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=session.system_time,
            adobe_revinfo_attr=None if validation_info is None else validation_info.adobe_revinfo_attr,
            cades_signed_attrs=meta.cades_signed_attr_spec,
        ),
    )
    await post.post_signature_processing(output)
    return output.getvalue()


def _sign_blocking(signer: Signer, **kwargs) -> bytes:
    try:
        return asyncio.run(_sign_async(signer, **kwargs))
    except SigningError as exc:
        if "larger than expected" not in str(exc) or kwargs["bytes_reserved"] is None:
            raise
        # Our reservation was too small (unusually long chain): let pyHanko estimate.
        return asyncio.run(_sign_async(signer, **{**kwargs, "bytes_reserved": None}))


async def sign_pdf(
    pdf: bytes,
    *,
    signer: SigningKey | Signer,
    field_name: str | None = None,
    box: Box | tuple[float, float, float, float] | None = None,
    page: int = 0,
    stamp_png: bytes | None = None,
    reason: str | None = None,
    location: str | None = None,
    contact_info: str | None = None,
    signing_time: dt.datetime | None = None,
    timestamper: TimeStamper | None = None,
    bytes_reserved: int | None = None,
    strict: bool = True,
) -> bytes:
    """Sign `pdf` (PAdES, incremental update) and return the signed bytes.

    - `field_name` names an existing EMPTY signature field (e.g. `shared.pdfdocs.LEADER_FIELD`):
      the signature goes there and `box`/`page` are ignored (the field has its own).
    - Otherwise a new field `field_name` (a generated name when None) is created at `box` on
      `page` (0-based); `box=None` makes an invisible signature.
    - `stamp_png` is the appearance (adapters.stamps), stretched to the field box: render it
      with the box's proportions.
    - `signing_time` (aware; default now in +07:00) is written as /M and should be the time
      printed in the stamp.
    - `timestamper`: a pyHanko `TimeStamper` for PAdES B-T (none yet: B-B).
    - `bytes_reserved`: hex characters reserved for the CMS; default covers our chains.
    """
    signing_time = signing_time or dt.datetime.now(VN_TZ)
    if signing_time.tzinfo is None:
        raise ValueError("signing_time must be timezone-aware")
    existing = find_signature_field(pdf, field_name) if field_name else None
    if existing is not None:
        if existing.signed:
            raise SignatureFieldError(f"signature field {field_name!r} is already signed")
        new_field = None
        appearance_box = existing.box
    else:
        field_name = field_name or f"Sig-{uuid.uuid4().hex[:12]}"
        appearance_box = Box.of(box) if box is not None else None
        new_field = SigFieldSpec(
            sig_field_name=field_name,
            on_page=page,
            box=appearance_box.as_tuple() if appearance_box else None,
        )
    if bytes_reserved is None:
        bytes_reserved = BYTES_RESERVED + (BYTES_RESERVED_TIMESTAMP if timestamper else 0)
    job = partial(
        _sign_blocking,
        pdf=pdf,
        field_name=field_name,
        new_field=new_field,
        appearance_box=appearance_box,
        stamp_png=stamp_png,
        reason=reason,
        location=location,
        contact_info=contact_info,
        signing_time=signing_time,
        timestamper=timestamper,
        bytes_reserved=bytes_reserved,
        strict=strict,
    )
    if isinstance(signer, Signer):
        signer = InMemoryKey(signer)
        try:
            return await signer.run(job)
        finally:
            signer.close()
    return await signer.run(job)
