"""Similar code between hand-ins, for the class report: a flag for a person, never a deduction.

`normalise` turns the graded cells into a token stream that survives cheap disguises,
`fingerprints` winnows it as MOSS does, `groups` finds copy groups and shared code, `matches`
compares the hand-ins of a class (and the reference solution).
"""
