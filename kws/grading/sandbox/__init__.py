"""Isolation and limits: run a trusted entry point next to untrusted code, in a child process.

- `run`: `run_child` runs one `ChildJob` — stage, list what it sees, launch, supervise, report;
- `staging`: what the child gets of its own: its folder, the copies of the hand-in and of the
  kit, and the machine's paths taken out of what comes back;
- `allow`: what it sees of the machine, one allow-list for both sandboxes (`gpu`: what CUDA
  needs of it);
- `supervise`: the child watched to its end (wall clock, how it ended) and its payload checked;
- `launch`: the first moments inside the child (namespaces, the allow-list mounted by `mounts`
  in the hand-written sandbox, limits, user id), then ``exec``;
- `bwrap`: the preferred sandbox, bubblewrap, given the allow-list as its arguments;
- `processes`: the child's own user id, its output's tails, killing all it started, and a
  command that dies with the process that started it (`dies_with_parent`);
- `faults`: a fault of the grading machine (a full disk, the grader's own MemoryError) told
  apart from a hand-in's, so that it is never a grade.

Parent-side code: nothing here imports student code or `kws.grading.child`; it names the child's
entry point as a module string (``-m kws.grading.child.runner``).
"""
