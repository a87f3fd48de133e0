"""Isolation and limits: run a trusted entry point next to untrusted code, in a child process.

Parent-side code: nothing here imports student code or `kws.grading.child`; it names the child's
entry point as a module string (``-m kws.grading.child.runner``).
"""
