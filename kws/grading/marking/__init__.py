"""``kws mark``: a person marks the written answers of a graded class, one question across every
hand-in, in a page of the browser.

- `collect`: the course's questions (from the solution notebooks), each hand-in's answers and
  what the grader measured of it (``results/<student>.json``), the class read once by alias,
  rendered and grouped (`read_class`);
- `groups`: the same, or nearly the same, answers grouped to be marked at once;
- `session`: what the page reads and changes (`MarkingSession`), the marks kept by
  `kws.grading.records.marks`;
- `server`: the page's server on 127.0.0.1, with its token, origin checks and
  Content-Security-Policy, the page (the template ``kws/templates/mark.html``) and its static
  files (``static/``: its scripts and style sheet);
- `cli`: the ``kws mark`` verb.

Above the records (it writes marks) and beside `classrun` and `publish` (it imports neither).
"""
