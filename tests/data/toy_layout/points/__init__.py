"""A toy assignment with its own data layout (tests/test_toy_layout.py)."""
