"""Patterns of async SQLAlchemy the application does not need yet, one idea per file.

Each file runs on its own against the database of `DATABASE_URL`, and stores nothing:

    uv run python examples/aggregation.py

The functions they define are tested in `tests/test_examples.py`; copy one into
`repositories.py` when the application needs it.
"""
