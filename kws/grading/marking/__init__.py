"""``kws mark``: a person marks the written answers of a graded class, one question across every
hand-in, in a page of the browser (docs/how-to/mark.md).

Above the records (it writes marks) and beside `classrun` and `publish` (it imports neither).
"""
