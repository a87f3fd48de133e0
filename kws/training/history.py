"""What a training run recorded: one entry per step, one per validation, saved as JSON."""

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


@dataclass
class History:
    """The record of one training run.

    Per training step (index ``i`` is step ``i + 1``): ``loss`` (mean loss of the batch), ``lr``
    (the learning rate that step used), ``train_accuracy`` (fraction of the batch predicted right),
    ``grad_norm`` (total gradient norm before clipping), ``batch_size``.
    Per validation: ``eval_step`` (the step it followed), ``valid_loss``, ``valid_accuracy``.
    ``best_step`` / ``best_valid_accuracy`` name the validation the best checkpoint was taken at;
    ``train_seconds`` is the wall time spent in [`kws.training.fit`][] (summed over resumes).
    """

    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    batch_size: list[int] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    valid_loss: list[float] = field(default_factory=list)
    valid_accuracy: list[float] = field(default_factory=list)
    best_step: int | None = None
    best_valid_accuracy: float | None = None
    train_seconds: float = 0.0

    @property
    def steps(self) -> int:
        """How many training steps were recorded."""
        return len(self.loss)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """Rebuild a History from `to_dict` output.

        Raises:
            ValueError: ``data`` has keys a History does not know (e.g. a JSON file of another kind).
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"not a training history: unknown keys {unknown}; expected {sorted(known)}"
            )
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write the history as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "History":
        """Read a history written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no training history at {path}; fit(..., out_dir=...) writes one"
            )
        return cls.from_dict(json.loads(path.read_text()))
