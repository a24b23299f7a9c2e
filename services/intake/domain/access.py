"""Who may call which intake route (R-15.5). The clerk receives, registers and digitises
(R-5.3, R-6.3, R-6.5); leaders assign (R-6.4); officers handle what they were given and see the
state of work (R-9.4); the archivist reads what is kept; the operator runs the system but does not
read documents."""

from shared.auth import SERVICE_ROLE, roles
from shared.staff import Role

LEADERS = roles(Role.CHAIRMAN, Role.VICE_CHAIRMAN)
READERS = roles(Role.CLERK, Role.CHAIRMAN, Role.VICE_CHAIRMAN, Role.OFFICER, Role.ARCHIVIST, SERVICE_ROLE)
REGISTER_READERS = roles(Role.CLERK, Role.CHAIRMAN, Role.VICE_CHAIRMAN, Role.ARCHIVIST)

ACCESS = {
    ("GET", "/documents"): READERS,
    ("GET", "/documents/{key}"): READERS,
    ("GET", "/documents/{key}/audit"): READERS,
    ("GET", "/documents/by-package/{package_id}"): READERS,
    ("GET", "/register/{year}"): REGISTER_READERS,
    ("GET", "/register/{year}/rows"): REGISTER_READERS,
    ("GET", "/register/{year}/export.{fmt}"): REGISTER_READERS,
    ("GET", "/handling/awaiting-assignment"): LEADERS | roles(Role.CLERK),
    ("POST", "/documents/{key}/forward"): roles(Role.CLERK),
    ("POST", "/documents/{key}/assignment"): LEADERS,
    # the officer in the path must be the caller: checked by the route (acting_user)
    ("POST", "/documents/{key}/handling/{officer}/received"): roles(Role.OFFICER),
    ("POST", "/documents/{key}/handling/{officer}/progress"): roles(Role.OFFICER),
    ("POST", "/documents/{key}/handling/{officer}/completed"): roles(Role.OFFICER),
    # an officer sees their own work; leaders see anyone's
    ("GET", "/officers/{officer}/work"): LEADERS | roles(Role.OFFICER),
    ("GET", "/staff"): roles(*Role, SERVICE_ROLE),
    ("POST", "/digitisations"): roles(Role.CLERK),
    # Reports: leaders see every officer's figures, an officer only their own row
    # (checked by the route). The yearly report is the agency's, compiled by the clerk,
    # read by the archivist for the archive's part; the operator reports on the system, not on documents.
    ("GET", "/reports/officers"): LEADERS | roles(Role.OFFICER),
    ("GET", "/reports/year/{year}"): LEADERS | roles(Role.CLERK, Role.ARCHIVIST),
}
