"""The menu each role sees (only what the role may open, R-15.5), and each role's first page."""

from __future__ import annotations

from dataclasses import dataclass

from services.portal.domain.access import ACCESS


@dataclass(frozen=True)
class MenuEntry:
    id: str  # stable element id (nav-<id>) for browser tests
    label: str
    path: str


MENU: list[MenuEntry] = [
    MenuEntry("clerk", "Văn bản đến", "/van-thu"),
    MenuEntry("register", "Sổ văn bản đến", "/van-thu/so-den"),
    MenuEntry("digitise", "Số hóa văn bản giấy", "/van-thu/so-hoa"),
    MenuEntry("outgoing", "Văn bản đi", "/van-thu/van-ban-di"),
    MenuEntry("recalls", "Thu hồi", "/van-thu/thu-hoi"),
    MenuEntry("leader", "Giao việc và duyệt", "/lanh-dao"),
    MenuEntry("work", "Việc của tôi", "/viec-cua-toi"),
    MenuEntry("drafts", "Dự thảo", "/du-thao"),
    MenuEntry("dossiers", "Hồ sơ", "/ho-so"),
    MenuEntry("archive", "Lưu trữ", "/luu-tru"),
    MenuEntry("search", "Tra cứu", "/tra-cuu"),
    MenuEntry("operator", "Vận hành hệ thống", "/van-hanh"),
]

HOME = {
    "clerk": "/van-thu", "chairman": "/lanh-dao", "vice_chairman": "/lanh-dao", "officer": "/viec-cua-toi",
    "archivist": "/luu-tru", "operator": "/van-hanh",
}


def menu_for(role: str, rules=ACCESS, extra: list[MenuEntry] | None = None) -> list[MenuEntry]:
    rules = rules or ACCESS
    entries = [*MENU, *(extra or [])]
    return [e for e in entries if role in rules.get(("GET", e.path), frozenset())]


def home_for(role: str) -> str:
    return HOME.get(role, "/doi-mat-khau")
