"""Formats both sides of the sandbox read: pure data and file look-ups, no student code."""
