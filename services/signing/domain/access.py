"""Who may call which signing route (R-15.5, R-8.2, R-8.3a): only the chairman grants or revokes
delegations of the agency key; who may *use* a key is custody (`custody.py`), checked per use."""

from shared.auth import SERVICE_ROLE, roles
from shared.staff import Role

LEADERS = roles(Role.CHAIRMAN, Role.VICE_CHAIRMAN)

ACCESS = {
    ("GET", "/keys"): LEADERS | roles(Role.CLERK, Role.OPERATOR, SERVICE_ROLE),
    ("GET", "/signatures/{request_id}"): LEADERS | roles(Role.CLERK, Role.OPERATOR, SERVICE_ROLE),
    ("POST", "/delegations"): roles(Role.CHAIRMAN),
    ("GET", "/delegations"): LEADERS | roles(Role.CLERK, Role.OPERATOR),
    ("POST", "/delegations/{delegation_id}/revoke"): roles(Role.CHAIRMAN),
    # The yearly report's signatures per key: whoever reads the yearly report.
    ("GET", "/reports/year/{year}"): LEADERS | roles(Role.CLERK, Role.ARCHIVIST),
}
