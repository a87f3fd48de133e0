"""Feedback for students (`kws feedback`): a page per student and notebook.

`pages` decides what a student reads (tests, accuracy against the tiers, standing), `rerun` the
notebook cell to run again for a failed test, `html` writes the pages and zips, `moodle` packs
them for Moodle's bulk feedback upload.
"""
