"""Isolation and limits: run a trusted entry point next to untrusted code, in a child process
(`run.run_child`), through bubblewrap (`bwrap`) or the hand-written launcher (`launch`), both
given one allow-list of what the child sees (`allow`).

Parent-side code: nothing here imports student code or `kws.grading.child`; it names the child's
entry point as a module string (``-m kws.grading.child.runner``). What it protects and how:
docs/reference/threat-model.md.
"""
