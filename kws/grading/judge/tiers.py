"""Accuracy tier sets: which table of thresholds a grading run scores accuracy against, chosen
from ``--tiers``, ``--dataset`` or the data (docs/reference/tiers.md), and partial credit by tier.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from kws.grading.testsets.layouts import layout_of
from kws.i18n import N_
from kws.i18n import gettext as _
from kws.spec import ASSIGNMENTS, TIER_ORDER, Spec

# The sources of a tier set a student reads in their language; a --dataset or --tiers source is
# the option as typed.
DETECTED = N_("detected from the --data folder")
WRITTEN_ONLY, NO_TASK = N_("written only"), N_("no task to run")


@dataclass(frozen=True)
class TierSet:
    """The tiers one assignment is graded against, and where they come from (for the reports)."""

    name: str  # the dataset's name in the spec's [tiers], or the --tiers file name
    tiers: dict[str, float]
    source: str  # DETECTED, "--dataset", "--tiers FILE_NAME", or NO_TASK

    def describe(self) -> str:
        """The tier set as the run's output states it, in the active language (`tiers_in`
        reads the English one back, from runs recorded before ``extra_data["tiers"]``)."""
        values = ", ".join(f"{t} {self.tiers[t]:g}" for t in TIER_ORDER)
        name = _(self.name) if self.name == WRITTEN_ONLY else self.name  # a dataset's name
        source = _(self.source) if self.source in (DETECTED, NO_TASK) else self.source
        said = _("tier set '{name}' ({values}; {source})")
        return said.format(name=name, values=values, source=source)


def check_tiers(tiers: dict, where: str) -> dict[str, float]:
    """`tiers` as floats, or ValueError unless it holds the four tiers in rising order."""
    values = [tiers.get(name) if isinstance(tiers, dict) else None for name in TIER_ORDER]
    if not all(isinstance(v, int | float) for v in values) or values != sorted(values):
        raise ValueError(
            f"{where} needs the tiers {', '.join(TIER_ORDER)} as numbers in rising order, "
            'e.g. {"simple": 0.6, "medium": 0.7, "strong": 0.8, "boss": 0.9}'
        )
    return {name: float(tiers[name]) for name in TIER_ORDER}


def detect_dataset(data: Path, assignment: str, spec: Spec | None = None) -> str | None:
    """The [tiers] name of a dataset the kit knows under `data`, else None (read by the layout
    of `spec`'s data; default: ``ASSIGNMENTS[assignment]``)."""
    return layout_of(spec or ASSIGNMENTS[assignment]).detect(data)


def tier_set(
    data: Path,
    assignment: str,
    *,
    dataset: str | None = None,
    tiers_file: Path | None = None,
    spec: Spec | None = None,
) -> TierSet:
    """The tier set `assignment` is graded against; ValueError naming the option to add.

    `spec`: the assignment's spec (default: ``ASSIGNMENTS[assignment]``, its file in the kit)."""
    spec = spec or ASSIGNMENTS[assignment]
    if spec.written_only:  # no accuracy to judge: every tier 0, said as such
        return TierSet(WRITTEN_ONLY, dict.fromkeys(TIER_ORDER, 0.0), NO_TASK)
    if tiers_file is not None:
        try:
            table = json.loads(Path(tiers_file).read_text())
        except (OSError, ValueError) as error:
            raise ValueError(
                f"--tiers {tiers_file}: cannot read a JSON tier table ({error})"
            ) from None
        if isinstance(table, dict):  # the assignment's own entry (by name or alias), if any
            table = next((table[k] for k in (spec.name, *spec.aliases) if k in table), table)
        return TierSet(
            Path(tiers_file).name,
            check_tiers(table, f"--tiers {tiers_file}"),
            f"--tiers {Path(tiers_file).name}",  # students read it: no path of this machine
        )
    known = spec.tiers
    if dataset is not None:
        if dataset not in known:
            raise ValueError(
                f"--dataset {dataset}: {spec.path} has no tiers of that name in [tiers] "
                f"(it has {', '.join(sorted(known))}); add an entry, pass --tiers FILE, or grade "
                "the other notebook only (--assignment)"
            )
        return TierSet(dataset, known[dataset], "--dataset")
    detected = detect_dataset(data, assignment, spec)
    if detected is None or detected not in known:
        raise ValueError(
            f"{data}: the {assignment} data is not a dataset the grader knows "
            f"({', '.join(sorted(known))}), so it has no accuracy tiers for it. Name them: add "
            f'--tiers FILE (a JSON like {{"simple": 0.6, "medium": 0.7, "strong": 0.8, '
            f'"boss": 0.9}}) or --dataset NAME (an entry of [tiers] in {spec.path})'
        )
    # Students read the source: name the data's kind, never its path on the grading machine.
    return TierSet(detected, known[detected], DETECTED)


def tier_credit(accuracy: float, tiers: dict[str, float], target: str) -> tuple[float, str]:
    """Partial credit for an accuracy: full marks at the target tier, an equal share per lower tier.

    Args:
        accuracy: the accuracy on the hidden test set (0..1).
        tiers: {tier: threshold} of the run's dataset (``grading.tiers(SPEC.name)``).
        target: the tier that gives full marks (the task's ``target`` in ``spec.toml``).

    Returns:
        (fraction of the points, a sentence for the student in the active language naming the
        highest tier reached and, below the target, the next).

    Example:
        ```python
        fraction, message = tier_credit(0.71, {"simple": 0.6, "medium": 0.7, "strong": 0.8,
                                               "boss": 0.9}, "strong")  # 2/3, "... medium ..."
        score.set(fraction, message)
        ```
    """
    wanted = TIER_ORDER[: TIER_ORDER.index(target) + 1]
    reached = [name for name in wanted if accuracy >= tiers[name]]
    fraction = len(reached) / len(wanted)
    values = {"accuracy": f"{accuracy:.4f}", "target": target, "at": f"{tiers[target]:.4f}"}
    if fraction == 1.0:
        top = [name for name in TIER_ORDER if accuracy >= tiers[name]][-1]  # the highest reached
        if top == target:
            return 1.0, _("Accuracy {accuracy} reaches the {target} tier ({at}).").format(**values)
        said = _("Accuracy {accuracy} reaches the {top} tier ({top_at}); full marks at {target} "
                 "({at}).")  # fmt: skip
        return 1.0, said.format(**values, top=top, top_at=f"{tiers[top]:.4f}")
    missing = wanted[len(reached)]
    values |= {"missing": missing, "needs": f"{tiers[missing]:.4f}"}
    if reached:
        said = _("Accuracy {accuracy} reaches the {reached} tier; the {missing} tier needs "
                 "{needs} (full marks at {target}, {at}). Train longer or improve the model.")  # fmt: skip
        return fraction, said.format(**values, reached=reached[-1])
    said = _("Accuracy {accuracy} reaches no tier; the {missing} tier needs {needs} (full marks "
             "at {target}, {at}). Train longer or improve the model.")  # fmt: skip
    return fraction, said.format(**values)


def accuracy_of(test: dict) -> float | None:
    """The accuracy a results.json `test` graded: what it measured (``extra_data["measured"]``,
    in every language), else what its English `tier_credit` message states; None: neither."""
    measured = ((test.get("extra_data") or {}).get("measured") or {}).get("accuracy")
    if isinstance(measured, int | float) and not isinstance(measured, bool):
        return float(measured)
    return accuracy_in(test.get("output") or "")


def tiers_of(document: dict, assignment: str) -> dict[str, float] | None:
    """The tiers of `assignment` a results.json `document` was graded against: its
    ``extra_data["tiers"]`` (in every language), else what its English output states."""
    recorded = ((document.get("extra_data") or {}).get("tiers") or {}).get(assignment)
    if isinstance(recorded, dict) and set(recorded) == set(TIER_ORDER):
        return {name: float(recorded[name]) for name in TIER_ORDER}
    return tiers_in(document.get("output") or "", assignment)


def accuracy_in(message: str) -> float | None:
    """The accuracy an English `tier_credit` message states ("Accuracy 0.8740 reaches ..."), or
    None."""
    found = re.search(r"\bAccuracy (\d+(?:\.\d+)?) (?:reaches|below)", message)
    return float(found.group(1)) if found else None


def tiers_in(output: str, assignment: str) -> dict[str, float] | None:
    """The tiers of `assignment` that a run's English output states with `TierSet.describe`, or
    None."""
    for paragraph in output.split("\n\n"):
        found = re.search(r"tier set '[^']*' \(([^;)]*)", paragraph)
        if found and assignment in paragraph[: found.start()]:
            pairs = (item.split() for item in found.group(1).split(","))
            tiers = {name: float(value) for name, value in (p for p in pairs if len(p) == 2)}
            if set(tiers) == set(TIER_ORDER):
                return tiers
    return None
