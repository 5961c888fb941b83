"""The package version (one place; imported by whatever records it, never via the package root)."""

__version__ = "0.1.0"
