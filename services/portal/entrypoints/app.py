"""The staff web application (issue 6): sign-in, accounts and the Vietnamese screens of every role.
It calls the other services' APIs with a short-lived token for the signed-in user (R-15.5).

Users are recognised by the portal's own session cookie (`web.portal_guard`, given to
`ServiceDefinition.guard`); which role opens which page is `domain/access.py`.

Plug-in modules: a module `services/portal/entrypoints/reports.py` (issue 6 item 3, written
separately) is included when present. It defines `router` (an APIRouter with
`route_class=web.PortalRoute`), `ACCESS` (its own rules, merged into the portal's table) and
optionally `MENU` (a list of `domain.menu.MenuEntry`, shown to the roles its GET rule allows).
"""

from __future__ import annotations

import importlib
import importlib.util

from services.portal.adapters import repository as repo
from services.portal.adapters.services import Services
from services.portal.domain.access import ACCESS
from services.portal.entrypoints import auth_pages, pages, web
from services.portal.handlers.accounts import seed_accounts
from shared.service import ServiceContext, ServiceDefinition, serve

PLUGINS = ("services.portal.entrypoints.reports",)


def _plugins() -> list:
    found = []
    for name in PLUGINS:
        if importlib.util.find_spec(name) is not None:
            found.append(importlib.import_module(name))
    return found


async def startup(ctx: ServiceContext) -> None:
    await repo.ensure_indexes(ctx.store.db)
    ctx.extras["services"] = Services(ctx.settings)
    await seed_accounts(ctx)


async def shutdown(ctx: ServiceContext) -> None:
    await ctx.extras["services"].close()


_modules = _plugins()
access = dict(ACCESS)
for _module in _modules:
    access.update(getattr(_module, "ACCESS", {}))
    web.EXTRA_MENU.extend(getattr(_module, "MENU", []))

definition = ServiceDefinition(
    name="portal",
    title="vanthu portal — the staff web application",
    access=access,
    guard=web.portal_guard,
    operator_api=False,  # its own status is read in process by the console (operator_pages.py)
    routers=[auth_pages.router, *pages.routers, *(m.router for m in _modules)],
    on_startup=[startup],
    on_shutdown=[shutdown],
)


def main() -> None:
    serve(definition)
