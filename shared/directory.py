"""The organisation directory: who the commune exchanges documents with (data, not code).

Vietnam abolished the district tier in 2025 and identifiers change: the directory is a file
(DIRECTORY_FILE) the operator edits or refreshes from the axis agency list, never a code list.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel


class Organisation(BaseModel):
    organ_id: str
    name: str
    full_name: str = ""
    parent: str | None = None
    # partners without the technical means are reached outside the system.
    channel: Literal["axis", "outside"] = "axis"


class Directory(BaseModel):
    self_id: str
    organisations: dict[str, Organisation]

    def get(self, organ_id: str) -> Organisation | None:
        return self.organisations.get(organ_id)

    def knows(self, organ_id: str | None) -> bool:
        return organ_id is not None and organ_id in self.organisations

    @property
    def own(self) -> Organisation:
        return self.organisations[self.self_id]


def load_directory(path: Path) -> Directory:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    organisations = {o["organ_id"]: Organisation(**o) for o in raw["organisations"]}
    return Directory(self_id=raw["self"], organisations=organisations)


@lru_cache
def cached_directory(path: Path) -> Directory:
    return load_directory(path)
