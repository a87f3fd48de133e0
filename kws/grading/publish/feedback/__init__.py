"""Feedback for students (`kws feedback`): a page per student and notebook, and the zips
Moodle's bulk feedback upload takes.
"""
