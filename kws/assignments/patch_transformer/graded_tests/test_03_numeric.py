"""Notebook 03, Tasks 1 to 4: the notebook's classes and functions, checked numerically in the
grading child (`kws.grading.child.numeric`, with this folder's checks.py): seeded, float64, with
small distinct sizes, Task 1 on sizes the student never sees, Task 3 on the attention the model
runs (traced). These tests read its facts from the payload and never import student code. They
are declared in spec.toml, [numeric.<test name>] (title, component, topics)."""

from kws.author import numeric_tests, spec_of

globals().update(numeric_tests(spec_of(__file__), __file__))
