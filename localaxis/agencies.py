"""The agencies behind the local axis, read from a JSON file (agencies are data, not code)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field


class Agency(BaseModel):
    code: str
    name: str
    systemid: str
    secret: str
    simulated: bool = False
    notation: str = "UBND"
    place: str = ""
    leader: str = "Nguyễn Văn An"
    leader_position: str = "Chánh Văn phòng"
    auto_statuses: list[str] = Field(default_factory=list)


class Agencies(BaseModel):
    agencies: list[Agency]

    def by_code(self, code: str) -> Agency | None:
        return next((a for a in self.agencies if a.code == code), None)

    def by_system(self, system_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.systemid == system_id), None)

    def secrets(self) -> dict[str, str]:
        return {a.systemid: a.secret for a in self.agencies}

    def simulated(self) -> list[Agency]:
        return [a for a in self.agencies if a.simulated]


def load_agencies(path: Path) -> Agencies:
    return Agencies.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
