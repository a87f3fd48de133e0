"""Written answers: questions a person marks, asked in a solution notebook and answered in a
student's hand-in.

- `model`: a question and its rubric's items (`Question`, `RubricItem`), the role tags, the
  placeholder of an empty answer cell, `QuestionError`;
- `questions`: the question format read from a solution notebook (the kit's cell tags, and
  nbgrader's and otter-grader's manually graded cells): `read_questions`;
- `foreign`: nbgrader's and otter-grader's formats, read as the kit's questions, and nbgrader's
  solution and hidden-test regions cleared at release as nbgrader's own release does
  (`clear_nbgrader`);
- `release`: the student version of a notebook's questions: the prompt and an empty answer
  cell, never the rubric or the model answer (`release_questions`, `check_no_leak`);
- `answers`: each question's answer read back from a hand-in notebook, by question id
  (`read_answers`, `Answer`), however the student's editor moved or stripped its cells;
- `render`: an answer as HTML that runs nothing it holds (`answer_html`; maths as MathML), and
  the notebook's cells around it (`context_html`), for the marking page.

Nothing here imports the grading engine: `kws.notebooks` (release), `kws.handin` (unanswered
questions) and `kws.grading.marking` (the marking page) read questions through this package.
The format is documented in docs/reference/written-questions.md.
"""
