"""The hidden test sets, on the grader's side: the labels stay here, the child gets inputs.

- `hidden`: `HiddenTest` (the labels of the inputs written for the child, in a secret order,
  and the accuracy of a list of predictions), the secret permutation and sample;
- `layouts`: one module per kind of grading data (`Layout`: Speech Commands' 12-class test set,
  the HW4 speaker features), read from an assignment's ``[data] layout``;
- `split`: Kaggle's rule, the graded items split into a public part shown during the homework
  and a held-out part that makes the grade.

Imports the child protocol (`kws.grading.protocol`) and the data readers of `kws.data`; never
the judge above it, and the child never imports it.
"""
