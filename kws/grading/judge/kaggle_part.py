"""Kaggle's rule as a graded test applies it (`KaggleParts`, a part of
`kws.grading.judge.fixture.Grading`); the split itself is `kws.grading.testsets.split`'s.
"""

from kws.grading.judge.results import GradescopeReport
from kws.grading.testsets.split import PartAccuracy, Split, part_accuracy
from kws.spec import Spec


class KaggleParts:
    """The Kaggle rule's step of an accuracy test; `Grading` has it.

    Reads `split` (the rule's share and seed, None when the run has no ``--public-share``) and
    `report` (the run's `GradescopeReport`), and keeps `public` ({(assignment, task): the
    accuracy the leaderboard shows}: the public part's under the Kaggle rule; where a private
    test set is graded without it, `Grading.accuracy` keeps predictions.csv's on the public test
    set there), which `Grading` sets.
    """

    split: Split | None
    report: GradescopeReport
    public: dict[tuple[str, str], float]

    def split_parts(
        self, spec: Spec, task: str, correct: dict[str, bool], private_set: bool
    ) -> PartAccuracy:
        """The Kaggle rule (`kws.grading.testsets.split`) on the graded items `correct` ({item
        key: whether `task`'s prediction is right}; the private test set's when `private_set`):
        the public part's accuracy goes in the run's output and on the leaderboard (`shown`);
        the running test grades the held-out part's and is marked so
        (`GradescopeReport.grades_held_out_part`: on Gradescope its points count from the
        notebook's due date on).

        Returns:
            Both parts' accuracies and sizes (`PartAccuracy`).

        Raises:
            SplitError: the share leaves a part empty (`kws.grading.judge.planned.checked_split`
                refuses such a share before a run starts).
        """
        graded = "the private test set" if private_set else "the hidden test set"
        parts = part_accuracy(correct, self.split, f"{spec.notebook}'s {graded}")
        self.public[(spec.name, task)] = parts.public
        only = " (the split covers the private test set's items only)" if private_set else ""
        self.report.add_output(
            f"{spec.notebook} ({task}): accuracy {parts.public:.4f} on the public part of "
            f"{graded} ({parts.n_public} items){only}. Your grade is the accuracy on its "
            f"held-out part ({parts.n_held_out} items), which counts from the due date on."
        )
        self.report.grades_held_out_part()
        return parts

    def shown(self, spec: Spec, task: str, accuracy: float) -> float:
        """The accuracy of `spec`'s `task` to show on the leaderboard: what `public` keeps for
        it, else `accuracy` itself."""
        return self.public.get((spec.name, task), accuracy)
