"""Notebook 01, Task 3: the KeywordTransformer's forward, checked numerically in the grading
child (`kws.assignments.keyword_spotting.keyword_model_checks`): seeded, float64, with small distinct sizes and the
notebook's ConvTokenizer replaced by a reference one, so that only forward is judged. These
tests read its facts from the payload and never import student code. They are declared in
spec.toml, [numeric.<test name>] (title, component, topics)."""

from kws.author import numeric_tests, spec_of

globals().update(numeric_tests(spec_of(__file__), __file__))
