"""A class graded in one call, as `kws grade` grades it (`kws.grading.classrun.cli`): the run
decided by `kws.grading.classrun.plan.plan_run`, then graded by
`kws.grading.classrun.batch.grade_class`. The tests' shorthand; the kit has no third path."""

from pathlib import Path

from kws.grading.classrun.batch import grade_class
from kws.grading.classrun.plan import plan_run


def grade_batch(
    submissions_dir: Path,
    data: Path,
    out_dir: Path,
    *,
    jobs: int = 2,
    grader: Path | None = None,
    pytest_args: list[str] = (),
    timeout: float = 3600.0,
    wait: bool = False,
    **planned,
) -> Path:
    """Grade every hand-in folder of `submissions_dir` into `out_dir`; the gradebook.

    Args:
        submissions_dir, data, out_dir: as `kws grade` takes them.
        jobs, grader, pytest_args, timeout, wait: `grade_class`'s.
        **planned: `plan_run`'s selection and season (assignment, dataset, tiers, student,
            shard, roster, course, times, file_times, strict).

    Returns:
        the gradebook's path.
    """
    plan = plan_run(submissions_dir, data, out_dir, **planned)
    gradebook, _ = grade_class(plan, jobs=jobs, grader=grader, pytest_args=pytest_args,
                               timeout=timeout, wait=wait)  # fmt: skip
    return gradebook
