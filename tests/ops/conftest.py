"""The operations tests (issue 7) share the `system` fixture (tests/system_fixture.py)."""

from system_fixture import system  # noqa: F401  (the fixture, one definition)
