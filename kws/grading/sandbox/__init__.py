"""Isolation and limits: run a trusted entry point next to untrusted code, in a child process.

- `run`: `run_child` runs one `ChildJob` — stage, launch, supervise, report;
- `staging`: what the child sees: its folder, the copies of the hand-in and of the kit, where
  they appear to it, and the machine's paths taken out of what comes back;
- `supervise`: the child watched to its end (wall clock, how it ended) and its payload checked;
- `launch`: the first moments inside the child (namespaces, limits, user id), then ``exec``;
- `bwrap`: the preferred sandbox, bubblewrap, with its allow-list;
- `processes`: the child's own user id, its output's tails, killing all it started.

Parent-side code: nothing here imports student code or `kws.grading.child`; it names the child's
entry point as a module string (``-m kws.grading.child.runner``).
"""
