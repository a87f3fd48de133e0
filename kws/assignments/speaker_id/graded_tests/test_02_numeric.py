"""Notebook 02, numeric correctness: each class a task asks for against torch.nn, torchaudio or
the formula, with copied weights, seeded, in float64 (`kws.grading.child.numeric`, run in the
grading child; these tests read its facts from the payload and never import student code).
The tests are declared in spec.toml, [numeric.<test name>] (title, component, topics).

Each comparison costs only its own points: inside a layer the student's attention is replaced by
torch's, so a bug in Task 1's attention costs the attention tests, named, and not every layer.
"""

from kws.author import numeric_tests, spec_of

globals().update(numeric_tests(spec_of(__file__), __file__))
