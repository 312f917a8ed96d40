"""The tests' own tooling (not part of the installed package)."""
