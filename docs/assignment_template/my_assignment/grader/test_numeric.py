"""The graded tests of the numeric checks: declared in spec.toml, [numeric.<test name>]."""

from kws.assignments import spec_of
from kws.grading.verdicts import numeric_tests

globals().update(numeric_tests(spec_of(__file__), __file__))
