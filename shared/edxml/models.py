"""The edXML packages of QCVN 102:2016/BTTTT as typed values (standards.md §1).

Text is NFC-normalised on the way in (R-4.4): Vietnamese arrives both composed and decomposed,
and registers, search and duplicate detection must see one form.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from enum import Enum, IntEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


Text = Annotated[str, AfterValidator(nfc)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Organization(_Model):
    """From / To (standards.md §1.2 rows 1–2). organ_id is the mã định danh (QĐ 20/2020)."""

    organ_id: Text
    organ_name: Text = ""
    organization_in_charge: Text = ""
    organ_add: Text = ""
    email: Text = ""
    telephone: Text = ""
    fax: Text = ""
    website: Text = ""


class Code(_Model):
    """Số and ký hiệu, split (R-7.1): CodeNumber "07", CodeNotation "UBND-VP"."""

    code_number: Text
    code_notation: Text

    @property
    def full(self) -> str:
        return f"{self.code_number}/{self.code_notation}"


class PromulgationInfo(_Model):
    place: Text = ""
    promulgation_date: dt.date


class DocumentType(_Model):
    type: int = 1  # national code list not found (standards.md §1.3 [?]); TypeName is authoritative
    type_detail: int = 0
    type_name: Text


class SignerInfo(_Model):
    competence: Text = ""  # TM. / KT. / TL. / TUQ. / Q.
    position: Text = ""
    full_name: Text = ""


class Priority(IntEnum):
    """OtherInfo/Priority (độ khẩn, standards.md §1.3, §5.4). FLASH_TIMED is read, never issued."""

    NORMAL = 0
    URGENT = 1
    VERY_URGENT = 2
    FLASH = 3
    FLASH_TIMED = 4


class OtherInfo(_Model):
    priority: Priority = Priority.NORMAL
    sphere_of_promulgation: Text = ""
    typer_notation: Text = ""
    promulgation_amount: int | None = None
    page_amount: int | None = None
    direction: bool = False
    appendixes: list[Text] = Field(default_factory=list)


class ResponseFor(_Model):
    """The document a package answers (§1.2 row 14) or a status is about (§1.8). organ_id is
    the ISSUER of that document; code its full số/ký hiệu (may be empty when the original
    could not be read)."""

    organ_id: Text
    code: Text = ""
    promulgation_date: dt.date | None = None
    document_id: Text


class TraceHeader(_Model):
    organ_id: Text
    timestamp: dt.datetime


class StaffInfo(_Model):
    department: Text = ""
    staff: Text = ""
    mobile: Text = ""
    email: Text = ""


class BusinessDocType(IntEnum):
    NEW = 0
    RECALL = 1  # thu hồi
    UPDATE = 2  # cập nhật
    REPLACE = 3  # thay thế


class ReceiverChange(_Model):
    organ_id: Text
    receiver_type: int  # 0 removed from the recipients, 1 added (§1.5 [S])


class Replacement(_Model):
    document_id: Text
    organ_ids: list[Text] = Field(default_factory=list)


class Business(_Model):
    """TraceHeaderList/Bussiness (sic, §1.5)."""

    document_id: Text = ""
    business_doc_type: BusinessDocType = BusinessDocType.NEW
    business_doc_reason: Text = ""
    paper: int = 0
    staff_info: StaffInfo | None = None
    document_info_changed: bool | None = None  # BussinessDocumentInfo (update only)
    receivers_changed: bool | None = None
    receiver_changes: list[ReceiverChange] = Field(default_factory=list)
    replacements: list[Replacement] = Field(default_factory=list)  # ReplacementInfoList (replace only)


class Attachment(_Model):
    content_id: Text
    attachment_name: Text
    description: Text = ""
    content_type: Text
    content: bytes = Field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def size(self) -> int:
        return len(self.content)


class EdocPackage(_Model):
    """A document package (gói tin văn bản), §1.1–1.7."""

    sender: Organization
    recipients: list[Organization] = Field(min_length=1)
    document_id: Text
    code: Code
    promulgation_info: PromulgationInfo
    document_type: DocumentType
    subject: Text
    content: Text = ""
    signer_info: SignerInfo = SignerInfo()
    due_date: dt.date | None = None
    other_info: OtherInfo = OtherInfo()
    steering_type: int = 1
    to_places: list[Text] = Field(default_factory=list)
    response_for: list[ResponseFor] = Field(default_factory=list)
    trace_headers: list[TraceHeader] = Field(default_factory=list)
    business: Business = Business()
    attachments: list[Attachment] = Field(default_factory=list)

    @staticmethod
    def make_document_id(organ_id: str, date: dt.date, code: Code) -> str:
        """`<sender OrganId>,<yyyy/MM/dd>,<số>/<ký hiệu>` (§1.2 row 3)."""
        return f"{organ_id},{date:%Y/%m/%d},{code.full}"


class StatusCode(str, Enum):
    """Business status codes (§1.8). There is no separate "update" code."""

    ARRIVED = "01"
    REFUSED = "02"
    REGISTERED = "03"
    ASSIGNED = "04"
    IN_PROGRESS = "05"
    COMPLETED = "06"
    RECALLED = "13"
    CHANGE_ACCEPTED = "15"
    CHANGE_REFUSED = "16"


class StatusPackage(_Model):
    """A status package (gói tin trạng thái), §1.8."""

    sender: Organization
    response_for: ResponseFor
    staff_info: StaffInfo | None = None
    status_code: StatusCode
    description: Text = ""
    timestamp: dt.datetime
