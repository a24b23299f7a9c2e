"""Which role may open which page of the portal (R-15.5); the services check again on every call.

Every route needs a rule here or the portal refuses to start (shared/service.create_app). The
sign-in pages and the style sheet are open to everyone: their rule holds the marker ANONYMOUS.
A signed-in user whose password must still be changed reaches only PASSWORD_CHANGE_ROUTES.

A later module (reports) adds its own table: `services/portal/entrypoints/reports.py` with
`ACCESS` (merged here by the app) — see entrypoints/app.py.
"""

from shared.auth import roles
from shared.staff import Role

ANONYMOUS = "anonymous"  # marker: no session needed (never a role of an account)
OPEN = frozenset({ANONYMOUS})

EVERYONE = roles(*Role)
CLERK = roles(Role.CLERK)
LEADERS = roles(Role.CHAIRMAN, Role.VICE_CHAIRMAN)
OFFICER = roles(Role.OFFICER)
ARCHIVIST = roles(Role.ARCHIVIST)
OPERATOR = roles(Role.OPERATOR)
# who reads documents (the operator runs the system but reads none)
READERS = roles(Role.CLERK, Role.CHAIRMAN, Role.VICE_CHAIRMAN, Role.OFFICER, Role.ARCHIVIST)
REGISTER_READERS = CLERK | LEADERS | ARCHIVIST
DRAFTERS = OFFICER | CLERK
KEEPERS = OFFICER | CLERK | LEADERS  # keep dossiers

ACCESS: dict[tuple[str, str], frozenset[str]] = {
    # --- open: signing in --------------------------------------------------------------------
    ("GET", "/static/portal.css"): OPEN,
    ("GET", "/dang-nhap"): OPEN,
    ("POST", "/dang-nhap"): OPEN,
    # --- every account -----------------------------------------------------------------------
    ("GET", "/"): EVERYONE,
    ("POST", "/dang-xuat"): EVERYONE,
    ("GET", "/doi-mat-khau"): EVERYONE,
    ("POST", "/doi-mat-khau"): EVERYONE,
    # --- everyone who reads documents: search and a document's page ------------------------
    ("GET", "/tra-cuu"): READERS,
    ("GET", "/van-ban-den/{key}"): READERS,
    ("GET", "/van-ban-di/{key}"): READERS,
    ("GET", "/ban-luu/{rid}"): READERS,
    ("GET", "/tep/{rid}/{sha256}"): READERS,
    # --- the clerk (R-5.3, R-6.3, R-6.5, R-7.2, R-7.4) -----------------------------------------
    ("GET", "/van-thu"): CLERK,
    ("GET", "/van-thu/so-den"): REGISTER_READERS,
    ("GET", "/van-thu/so-den/{year}/xuat.{fmt}"): REGISTER_READERS,
    ("GET", "/van-thu/so-hoa"): CLERK,
    ("POST", "/van-thu/so-hoa"): CLERK,
    ("GET", "/van-thu/van-ban-di"): CLERK,
    ("POST", "/van-ban-di/{key}/kiem-tra-the-thuc"): CLERK,
    ("GET", "/van-thu/thu-hoi"): CLERK,
    # --- leaders (R-6.3, R-6.4, R-7.1, R-7.4) --------------------------------------------------
    ("GET", "/lanh-dao"): LEADERS,
    ("POST", "/van-ban-den/{key}/chuyen-chu-tich"): CLERK,
    ("GET", "/van-ban-den/{key}/giao-viec"): LEADERS,
    ("POST", "/van-ban-den/{key}/giao-viec"): LEADERS,
    ("POST", "/du-thao/{draft_id}/duyet"): LEADERS,
    ("POST", "/du-thao/{draft_id}/tra-lai"): LEADERS,
    ("POST", "/van-ban-di/{key}/duyet"): LEADERS,  # what the clerk handed in
    ("POST", "/van-ban-di/{key}/tra-lai"): LEADERS,
    ("POST", "/van-ban-di/{key}/thu-hoi"): LEADERS,
    # --- officers: my work, drafts (R-6.4, R-7.1, R-10.3, R-15.1) ------------------------------
    ("GET", "/viec-cua-toi"): OFFICER,
    ("POST", "/van-ban-den/{key}/xu-ly/{action}"): OFFICER,
    ("GET", "/du-thao"): DRAFTERS,
    ("GET", "/du-thao/moi"): DRAFTERS,
    ("POST", "/du-thao"): DRAFTERS,
    ("GET", "/du-thao/{draft_id}"): DRAFTERS | LEADERS,
    ("POST", "/du-thao/{draft_id}/phien-ban"): DRAFTERS,
    ("POST", "/du-thao/{draft_id}/trinh"): DRAFTERS,
    # --- dossiers (R-10.1 …) ------------------------------------------------------------
    ("GET", "/ho-so"): READERS,
    ("POST", "/ho-so"): KEEPERS,
    ("GET", "/ho-so/{code}"): READERS,
    ("POST", "/ho-so/{code}/van-ban"): KEEPERS,
    ("POST", "/ho-so/{code}/dong"): KEEPERS,
    ("POST", "/ho-so/{code}/nop"): KEEPERS,
    # --- the archivist (R-11.1, R-11.3) -------------------------------------------------------
    ("GET", "/luu-tru"): ARCHIVIST,
    ("POST", "/ho-so/{code}/tiep-nhan"): ARCHIVIST,
    ("POST", "/ho-so/{code}/tra-lai"): ARCHIVIST,
    ("POST", "/ho-so/{code}/de-nghi-huy"): ARCHIVIST,
    # --- the operator's console: health, queues, dead letters, axis, token, errors -------
    ("GET", "/van-hanh"): OPERATOR,
    ("GET", "/van-hanh/thong-diep-loi/{service}/{dead_letter_id}"): OPERATOR,
    ("POST", "/van-hanh/thong-diep-loi/{service}/{dead_letter_id}/phat-lai"): OPERATOR,
    ("POST", "/van-hanh/thong-diep-loi/{service}/{dead_letter_id}/huy-bo"): OPERATOR,
}

# Reachable while the password must still be changed (first sign-in, R-15.2).
PASSWORD_CHANGE_ROUTES = frozenset({("GET", "/doi-mat-khau"), ("POST", "/doi-mat-khau"), ("POST", "/dang-xuat")})


def allowed(rules, method: str, path: str, role: str | None) -> bool:
    """May `role` (None: not signed in) use this route? Unknown routes: nobody."""
    permitted = rules.get((method, path))
    if permitted is None:
        return False
    return ANONYMOUS in permitted or (role is not None and role in permitted)
