"""Who may call which gateway route (R-15.5, R-5.3: the clerk is the focal point of exchange;
the operator watches the axis link)."""

from shared.auth import SERVICE_ROLE, roles
from shared.staff import Role

WATCHERS = roles(Role.CLERK, Role.OPERATOR, SERVICE_ROLE)

ACCESS = {
    ("GET", "/packages"): WATCHERS,
    ("GET", "/packages/{package_id}"): WATCHERS,
    ("GET", "/sends"): WATCHERS,
    ("GET", "/sends/{send_id}"): WATCHERS,
    ("POST", "/poll"): roles(Role.CLERK, Role.OPERATOR),
    # the evidence log of the exchange and its verification (R-13, issue 7 item 4)
    ("GET", "/evidence"): roles(Role.OPERATOR),
    ("GET", "/evidence/verify"): roles(Role.OPERATOR),
}
