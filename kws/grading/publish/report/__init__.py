"""The class report (`kws report`): one offline HTML page about a graded class.

`analysis` reads what the grading says (scores, tests, accuracies, hand-ins to look at),
`figures` draws it, `season` is the late work and adjustments section, `page` writes the page.
"""
