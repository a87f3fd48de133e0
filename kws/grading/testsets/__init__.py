"""The hidden test sets, on the grader's side: the labels stay here, the child gets inputs
(`hidden`), read by an assignment's data layout (`layouts`), with Kaggle's rule (`split`).
Never imports the judge above it, and the child never imports it.
"""
