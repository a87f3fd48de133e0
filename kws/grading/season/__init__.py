"""A course's season: due dates, the late rule, grace days, extensions and adjustments,
applied to a graded class. Reads and writes the records (`kws.grading.records`); never grades.

- `course`: the course file (``course.toml``), read and checked, its keys at every level; `warn`:
  what it reads but a careful colleague would question (a zone abbreviation, a midnight, ...);
- `dates`: times as instructors write them, read alike on every Python;
- `times`: when each hand-in came in (a times CSV, Moodle's worksheet, Gradescope's metadata);
- `inputs`: all of the above read and checked against the class before anything is written;
- `compute`: each student's standing in each assignment (`class_standings`);
- `apply`: ``standings.json`` and the gradebook's per-assignment columns written
  (`apply_season`, what `kws season` and `kws grade --course` run);
- `written`: the graded notebooks' written questions, recorded from the first grade;
- `cli`: the verbs `kws season`, `kws adjust` and `kws marks restore`, and what `kws grade` and
  `kws gradescope` print of the season.
"""
