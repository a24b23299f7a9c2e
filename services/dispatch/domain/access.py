"""Who may call which dispatch route (R-15.5). Officers draft (R-6.3, R-7.1); leaders return or
approve and sign, and decide recalls (R-7.1, R-7.4); the clerk checks the format, numbers, issues
and tracks paper copies and delivery (R-5.2, R-5.3, R-7.2, R-7.5)."""

from shared.auth import SERVICE_ROLE, roles
from shared.staff import Role

LEADERS = roles(Role.CHAIRMAN, Role.VICE_CHAIRMAN)
CLERK = roles(Role.CLERK)
READERS = roles(Role.CLERK, Role.CHAIRMAN, Role.VICE_CHAIRMAN, Role.OFFICER, Role.ARCHIVIST, SERVICE_ROLE)
DRAFTERS = roles(Role.OFFICER, Role.CLERK)
REGISTER_READERS = roles(Role.CLERK, Role.CHAIRMAN, Role.VICE_CHAIRMAN, Role.ARCHIVIST)

ACCESS = {
    ("POST", "/outgoing"): CLERK,
    ("GET", "/outgoing/{key}"): READERS,
    ("GET", "/outgoing/{key}/audit"): READERS,
    ("GET", "/outgoing"): READERS,
    # a document the clerk hands in waits for the leader's own approval
    ("POST", "/outgoing/{key}/approve"): LEADERS,
    ("POST", "/outgoing/{key}/return"): LEADERS,
    ("POST", "/outgoing/{key}/recall"): LEADERS,
    ("POST", "/outgoing/{key}/paper/{organ_id}"): CLERK,
    ("GET", "/paper/pending"): CLERK | LEADERS,
    ("GET", "/replies/owed"): roles(Role.OFFICER, Role.CLERK) | LEADERS,
    ("POST", "/outgoing/{key}/cancel"): CLERK | LEADERS,
    ("POST", "/outgoing/{key}/format-check"): CLERK,
    ("GET", "/deliveries/unacknowledged"): CLERK | LEADERS,
    # R-4.2a, R-7.5: the clerk tracks issuing, leaders steer; the rows carry codes and subjects, so
    # not the operator (R-13: the system, not the documents)
    ("GET", "/issuing/late"): CLERK | LEADERS,
    ("GET", "/register/{year}"): REGISTER_READERS,
    ("GET", "/register/{year}/rows"): REGISTER_READERS,
    ("GET", "/register/{year}/export.{fmt}"): REGISTER_READERS,
    ("POST", "/drafts"): DRAFTERS,
    ("POST", "/drafts/{draft_id}/versions"): DRAFTERS,
    ("POST", "/drafts/{draft_id}/submit"): DRAFTERS,
    ("POST", "/drafts/{draft_id}/return"): LEADERS,
    ("POST", "/drafts/{draft_id}/approve"): LEADERS,
    ("GET", "/drafts/{draft_id}"): DRAFTERS | LEADERS,
    ("GET", "/drafts"): DRAFTERS | LEADERS,
    # Reports: leaders see every officer's figures, an officer only their own row
    # (checked by the route). The yearly report is the agency's, compiled by the clerk,
    # read by the archivist; the operator reports on the system, not on documents.
    ("GET", "/reports/officers"): LEADERS | roles(Role.OFFICER),
    ("GET", "/reports/year/{year}"): LEADERS | CLERK | roles(Role.ARCHIVIST),
}
