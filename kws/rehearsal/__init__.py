"""A course rehearsal: the instructor plays the whole season before it starts (`kws rehearse`).

- `stories`: the synthetic class (who hands in what, and when, against the course file);
- `handins`: its hand-ins, made from the kit's reference solutions and kept for a second run;
- `season`: the season played with the real commands, into a folder of its own;
- `page`: what the instructor reads first (HTML, and the same as text);
- `cli`: the verb.

It sits above the grading engine (`kws.grading`) and only calls its commands.
"""
