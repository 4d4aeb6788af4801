"""pytest suite of the reference exporter (run: `pytest reference/tests` from the repository root)."""
