"""The graded tests of the numeric checks: declared in spec.toml, [numeric.<test name>]."""

from kws.author import numeric_tests, spec_of

globals().update(numeric_tests(spec_of(__file__), __file__))
