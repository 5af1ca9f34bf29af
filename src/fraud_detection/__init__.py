"""Card-transaction fraud detection: code shared by the pipelines, serving and monitoring."""

__version__ = "0.1.0"
