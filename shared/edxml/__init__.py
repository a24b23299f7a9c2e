"""edXML (QCVN 102:2016/BTTTT) document and status packages: models, parse, build, validate."""

from shared.edxml.build import (
    NAMESPACE,
    build_edoc,
    build_status,
    format_date,
    format_timestamp,
)
from shared.edxml.models import (
    Attachment,
    Business,
    BusinessDocType,
    Code,
    DocumentType,
    EdocPackage,
    Organization,
    OtherInfo,
    Priority,
    PromulgationInfo,
    ReceiverChange,
    Replacement,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPackage,
    TraceHeader,
)
from shared.edxml.parse import (
    EdxmlError,
    FieldError,
    Header,
    parse_edoc,
    parse_package,
    parse_status,
    peek_header,
)

__all__ = [
    "NAMESPACE", "Attachment", "Business", "BusinessDocType", "Code", "DocumentType", "EdocPackage", "EdxmlError",
    "FieldError", "Header", "Organization", "OtherInfo", "Priority", "PromulgationInfo", "ReceiverChange",
    "Replacement", "ResponseFor", "SignerInfo", "StaffInfo", "StatusCode", "StatusPackage", "TraceHeader",
    "build_edoc", "build_status", "format_date", "format_timestamp", "parse_edoc", "parse_package",
    "parse_status", "peek_header",
]
