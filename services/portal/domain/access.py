"""Which role may open which page of the portal (R-15.5); the services check again on every call."""

ACCESS: dict[tuple[str, str], frozenset[str]] = {}
