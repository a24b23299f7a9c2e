"""A local RFC 3161 time-stamping server for development and tests (issue 4: PAdES B-T needs a
configured time-stamping server; the project ships its own). Production points TSA_URL at a
licensed Vietnamese TSA instead; nothing else changes."""
