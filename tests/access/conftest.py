"""The access matrix runs against the whole started system, the same `system` fixture as the
end-to-end tests (tests/system_fixture.py)."""

from system_fixture import system  # noqa: F401  (the fixture, one definition)
