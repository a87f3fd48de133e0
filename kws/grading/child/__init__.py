"""The grading child: the grader's code that runs in the sandbox, next to student code.

Started as ``python -m kws.grading.child.runner`` (or ``.retrain``) by `kws.grading.sandbox`;
the parent reads only its checked JSON payload and never imports these modules.
"""
