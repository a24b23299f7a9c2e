"""The portal's screens, one router per role (and the pages every reader shares)."""

from services.portal.entrypoints import clerk_pages, common_pages, dossier_pages, leader_pages, officer_pages, operator_pages

routers = [common_pages.router, clerk_pages.router, leader_pages.router, officer_pages.router, dossier_pages.router,
           operator_pages.router]
