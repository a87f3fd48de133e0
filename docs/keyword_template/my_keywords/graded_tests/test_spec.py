"""The graded tests my_keywords's spec.toml declares (written by `kws assign`): model loads, its
rules and limits, accuracy by tier. A test of the same name written in another module of this
folder replaces the declared one."""

from kws.author import spec_of, spec_tests

globals().update(spec_tests(spec_of(__file__), __file__))
