"""The package's version: the one place it is written (pyproject.toml reads it from here)."""

__all__ = ["__version__"]

#: This release of prolific_async, as on PyPI and in ``prolific-async --version``.
__version__ = "0.1.0"
