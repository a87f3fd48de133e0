"""The marks a person gives written answers (`kws mark`), kept in the grades folder's ``marks/``:
``rubrics.json``, ``marks.json``, ``comments.json``, ``graders.json`` and ``history.jsonl``.
Their format and rules are on docs/reference/written-questions.md ("The marks"), marking on
docs/how-to/mark.md.

A mark records its rubric items' ids, never their points, and the digest of the answer it was
given to (a changed answer makes it stale). While another command holds ``run.lock``
(`kws.grading.records.lock`), a mark is saved but the folder is not sealed: that command seals
it, and `check_marked` refuses standings the marks changed since.

The package's modules: `rubric` (a question's `Rubric`, a `Mark`, the files' names and the
checks of their values), `store` (`MarkStore`: reading and changing the files), `history` (the
history's events and the marks they leave: `replay`), `blanks` (the 0 "no answer" the kit
gives a blank answer: `mark_blanks`), `comments` (each question's comment library,
``comments.json``), `graders` (who marks what, ``graders.json``) and `written` (the marks in
the grades: `written_part`, `check_marked`).
"""
