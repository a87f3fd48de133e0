"""What a graded class gives out: the class report (`report/`, with `similarity/`), students'
feedback (`feedback/`), the LMS exports (`exports`) and the Gradescope autograder
(`gradescope/`); `cli` holds the verbs. Reads the records and standings; writes only its own
files (and the gradebook's ``similar_to`` column).
"""
