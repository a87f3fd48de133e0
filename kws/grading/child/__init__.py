"""The grading child: the grader's code that runs in the sandbox, next to student code. The
sandbox starts it by module name (`runner`, `retrain`, `autograded`); the parent reads only its
checked JSON payload and never imports these modules.
"""
