"""Who may call which archive route (R-15.5). Officers keep dossiers (R-10.2, R-10.5); leaders
approve the catalogue and disposals (R-10.1, R-11.1); the archivist checks, accepts and proposes
disposal (R-11.1, R-11.3); the operator runs integrity checks but reads no documents. Within a
route the domain checks more (the keeper of a dossier, restricted access)."""

from shared.auth import SERVICE_ROLE, roles
from shared.staff import Role

LEADERS = roles(Role.CHAIRMAN, Role.VICE_CHAIRMAN)
READERS = roles(Role.CLERK, Role.CHAIRMAN, Role.VICE_CHAIRMAN, Role.OFFICER, Role.ARCHIVIST, SERVICE_ROLE)
KEEPERS = roles(Role.OFFICER, Role.CLERK) | LEADERS
ARCHIVIST = roles(Role.ARCHIVIST)
INTEGRITY = roles(Role.ARCHIVIST, Role.OPERATOR, SERVICE_ROLE)

ACCESS = {
    ("GET", "/records"): READERS,
    ("GET", "/records/{rid}"): READERS,
    ("GET", "/records/{rid}/files/{sha256}"): READERS,
    ("GET", "/catalogue/{year}"): READERS,
    ("POST", "/catalogue/{year}/entries"): LEADERS,
    ("POST", "/catalogue/{year}/proposals"): KEEPERS,
    ("POST", "/catalogue/{year}/proposals/{notation}/decision"): LEADERS,
    ("GET", "/dossiers"): READERS,
    ("GET", "/dossiers/due-for-submission"): READERS,
    ("GET", "/dossiers/expired"): ARCHIVIST | LEADERS,
    ("GET", "/tombstones"): ARCHIVIST | LEADERS,
    ("GET", "/dossiers/{code}"): READERS,
    ("POST", "/dossiers"): KEEPERS,
    ("PATCH", "/dossiers/{code}"): KEEPERS,
    ("POST", "/dossiers/{code}/items"): KEEPERS,
    ("DELETE", "/dossiers/{code}/items/{record_id}"): KEEPERS,
    ("POST", "/dossiers/{code}/materials"): KEEPERS,
    ("POST", "/dossiers/{code}/close"): KEEPERS,
    ("POST", "/dossiers/{code}/reopen"): KEEPERS,
    ("POST", "/dossiers/{code}/submit"): KEEPERS,
    ("POST", "/dossiers/{code}/review"): ARCHIVIST,
    ("POST", "/dossiers/{code}/accept"): ARCHIVIST,
    ("POST", "/dossiers/{code}/return"): ARCHIVIST,
    ("POST", "/dossiers/{code}/disposal/propose"): ARCHIVIST,
    ("POST", "/dossiers/{code}/disposal/approve"): roles(Role.CHAIRMAN),
    ("POST", "/dossiers/{code}/disposal/reject"): LEADERS,
    ("POST", "/dossiers/{code}/disposal/restore"): ARCHIVIST | roles(Role.CHAIRMAN),
    ("POST", "/dossiers/{code}/hold"): ARCHIVIST | LEADERS,
    ("POST", "/dossiers/{code}/hold/release"): ARCHIVIST | LEADERS,
    ("POST", "/fixity/run"): INTEGRITY,
    ("GET", "/fixity/runs"): INTEGRITY,
    ("GET", "/fixity/runs/{run_id}"): INTEGRITY,
    ("GET", "/alerts"): INTEGRITY,
    ("POST", "/preservation/run"): INTEGRITY,
    ("GET", "/preservation/runs"): INTEGRITY,
    ("GET", "/preservation/runs/{run_id}"): INTEGRITY,
    ("GET", "/preservation/records/{rid}"): INTEGRITY | READERS,
    ("GET", "/dossiers/{code}/export"): ARCHIVIST | LEADERS,
    ("POST", "/dossiers/import"): ARCHIVIST,
    ("GET", "/search"): READERS,
    # Reports: leaders see every keeper's figures, an officer only their own row
    # (checked by the route). The yearly report is the agency's, compiled by the clerk,
    # read by the archivist; the operator reports on the system, not on documents.
    ("GET", "/reports/officers"): LEADERS | roles(Role.OFFICER),
    ("GET", "/reports/year/{year}"): LEADERS | roles(Role.CLERK, Role.ARCHIVIST),
}
