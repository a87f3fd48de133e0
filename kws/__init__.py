"""kws: a course kit for teaching Transformers on audio."""

__version__ = "0.1.0"
