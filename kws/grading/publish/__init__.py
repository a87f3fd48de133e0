"""What a graded class gives out: the class report, students' feedback, the LMS exports and the
Gradescope autograder.

- `report/`: the class report (`kws report`): analyses, figures, the HTML page;
- `feedback/`: a page per student and notebook (`kws feedback`), Moodle's feedback zips;
- `similarity/`: similar code between hand-ins, a flag for a person (never a deduction);
- `exports`: the CSV Canvas or Moodle imports (`kws export`);
- `gradescope/`: the autograder zip (`kws gradescope`) and the season's rules on Gradescope;
- `cli`: the verbs `kws report`, `kws feedback` and `kws export`.

Reads the records and standings; writes only its own files (and the gradebook's
``similar_to`` column).
"""
