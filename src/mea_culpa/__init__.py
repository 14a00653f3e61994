"""mea-culpa: a calm command-line guide for recovering from a mistake."""

__version__ = "0.1.0"
