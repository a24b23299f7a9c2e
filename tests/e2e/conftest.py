"""The end-to-end modules share the `system` fixture (tests/system_fixture.py): the whole system
started once per module."""

from system_fixture import system  # noqa: F401  (the fixture, one definition)
