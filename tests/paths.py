"""Where the tests' captured payloads live: `tests/fixtures/` (see each folder's README.md)."""

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    """A captured payload, e.g. "alertmanager/alertmanager-0.25-firing.json"."""
    return (FIXTURES / name).read_bytes()


REPOSITORY = Path(__file__).resolve().parent.parent
"""The repository's root, for tests that read its documentation."""
