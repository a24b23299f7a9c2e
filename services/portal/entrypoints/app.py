"""The staff web application (issue 6): sign-in, accounts and the Vietnamese screens of every role.
It calls the other services' APIs with a short-lived token for the signed-in user (R-15.5)."""

from __future__ import annotations

from services.portal.domain.access import ACCESS
from shared.service import ServiceDefinition, serve

definition = ServiceDefinition(
    name="portal",
    title="vanthu portal — the staff web application",
    access=ACCESS,
    routers=[],
)


def main() -> None:
    serve(definition)
