"""The evidence-log modules share the `system` fixture (tests/system_fixture.py): the whole
system started once per module (each module sets its own limits in the environment first)."""

from system_fixture import system  # noqa: F401  (the fixture, one definition)
