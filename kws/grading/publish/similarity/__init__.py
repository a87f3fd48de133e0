"""Similar code between hand-ins, for the class report: a flag for a person, never a deduction
(docs/reference/similarity.md).
"""
