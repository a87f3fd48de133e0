"""The toy assignment's graded tests, run by the hidden grader (`kws.grading.plugin`)."""
