"""The commune's staff and their roles (data, not code: STAFF_FILE). Until accounts arrive with
the web application, this list is where the system learns who is the chairman, who are
officers, who is the clerk."""

from __future__ import annotations

import json
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel


class Role(StrEnum):
    CLERK = "clerk"
    CHAIRMAN = "chairman"
    VICE_CHAIRMAN = "vice_chairman"
    OFFICER = "officer"
    ARCHIVIST = "archivist"
    OPERATOR = "operator"


LEADERS = (Role.CHAIRMAN, Role.VICE_CHAIRMAN)


class StaffMember(BaseModel):
    user: str
    name: str
    role: Role
    position: str = ""


class Staff(BaseModel):
    members: dict[str, StaffMember]

    def get(self, user: str | None) -> StaffMember | None:
        return self.members.get(user or "")

    def with_role(self, *roles: Role) -> list[StaffMember]:
        return [m for m in self.members.values() if m.role in roles]


def load_staff(path: Path) -> Staff:
    path = Path(path)
    return _load(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(path: str, _mtime: int) -> Staff:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return Staff(members={m["user"]: StaffMember(**m) for m in raw["staff"]})
