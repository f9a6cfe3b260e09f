"""ThoughtTrace Explorer offline pipeline: source -> validated tables -> one DuckDB file."""

__version__ = "0.1.0"
