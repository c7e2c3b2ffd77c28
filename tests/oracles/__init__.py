"""Independent test-only implementations the library is checked against (never shipped)."""
