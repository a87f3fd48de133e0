"""The marks a person gives written answers (`kws mark`), kept in the grades folder's ``marks/``:

    marks/rubrics.json    each question: its assignment, id, kind, points, prompt, model answer
                          and rubric items, as marking left them (a grader may change an item)
    marks/marks.json      each question's marks, by student: the rubric items given, a points
                          adjustment, a comment, the answer's digest, who, when, a version
    marks/history.jsonl   every change, one JSON object a line, appended and never rewritten

    store = MarkStore(Path("grades"), students=["ann", "bob"])
    store.save("speaker_id/norm-classifier", ["ann"], items=["scale"], digests={"ann": "3f2a…"},
               by="kim")                                   # saved at once
    store.change_item("speaker_id/norm-classifier", "scale", points=1.5, by="kim")
    rubric, mark = store.rubrics()[key], store.marks()[key]["ann"]
    rubric.score(mark)                                     # from the rubric as it is now

A mark records the rubric items' ids, never their points: an item's points changed later reach
every answer that has it. A mark records the digest of the answer it was given to
(`kws.written.answers.Answer.digest`): when the hand-in is collected again and the answer
changed, the mark is stale and the marking page asks for it again. A mark for a student the
gradebook does not list, a question ``rubrics.json`` does not hold, or an item its rubric does
not have is refused with the fix.

Each change is one read-modify-write under a lock (``marks/.lock``, an exclusive ``flock``: two
browsers on one server, or two servers on one folder, lose no mark): read the file, change the
entry, append the change to the history, write the file whole
(`kws.grading.records.files.write_whole`), and seal the grades folder again
(`kws.grading.records.seal`, which covers ``rubrics.json`` and ``marks.json``). A mark given with
the version the grader saw is refused (`MarkConflict`) when someone else changed it since, and
so is one mark for several students whose marks differ, unless the grader chose to replace them
(`save(..., alike=False)`). `unmark` takes marks back. A rubric item change that makes the items
giving points add up to more than the question's points is refused (`shortfall` says when they
add up to less).
While another command writes the folder (`kws grade`, `kws season`: ``run.lock``,
`kws.grading.records.lock`), a mark is saved in ``marks.json`` as ever but the folder is not
sealed: that command seals it when it finishes, and a mark saved after it read the marks makes
its standings stale, which the exports refuse (`check_marked`).

The marks reach the grades through `written_part`: `kws.grading.season.compute` adds each
student's written points to the raw score of the assignment whose notebook asks them (and the
questions' points to its maximum), so a late penalty and the adjustments apply to the whole.
``standings.json`` records the digest of the marks it counted; `check_marked` refuses to publish
standings the marks changed since (``kws season GRADES`` counts them again), and, unless told to
count them as 0, standings with answers no one marked yet.

The package's modules: `rubric` (a question's `Rubric`, a `Mark`, the files' names and the
checks of their values), `store` (`MarkStore`: reading and changing the files) and `written`
(the marks in the grades: `written_part`, `check_marked`).
"""
