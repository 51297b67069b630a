"""The one place the version is written: pyproject.toml reads it (dynamic version), and
``visiontokens.__version__`` is this."""

__version__ = "0.1.0"
