"""The records of a graded class, as files in the grades folder and read back. Formats only:
what is late or what a standing is worth is decided by `kws.grading.season`.

- `gradebook`: ``gradebook.csv`` (a row a student, a column a test) and ``run.json``;
- `grades`: the graded folder read back (`read_grades`: rows, results, standings);
- `standings`: ``standings.json``, each student's standing in each assignment;
- `adjustments`: ``adjustments.csv``, a person's changes to grades;
- `roster`: the class roster CSV that maps hand-in folders to students;
- `tables`: the CSV files instructors give (as Excel saves them) and the encoding of exports;
- `marks`: ``marks/``, a person's marks of the written answers, their rubrics and history;
- `kept_marks`: the marks the grades say exist are there, or rebuilt from their history;
- `files`: every file of the grades folder written whole (a temporary file, then a rename);
- `seal`: ``records.json``, what the last command left, checked before grades are published;
- `lock`: ``run.lock``, one command at a time writes the folder, and whether it finished.
"""
