"""The graded tests of this assignment, run by the hidden grader (`kws.grading.plugin`)."""
