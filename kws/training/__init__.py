"""Training: ``fit`` / ``evaluate`` / ``predict``, checkpoints, the run's history, device and seeding.

A run is ``history = fit(model, train_batches, valid_batches, steps=2000, out_dir="runs/kwt")``;
then ``evaluate(model, test_batches)["accuracy"]`` scores it, ``predict`` gives the predicted class
of every test example and ``write_predictions_csv`` writes them as a Kaggle-style ``Id,Category`` file.
"""

from kws.device import resolve_device
from kws.training.checkpoints import load_model, load_training_state
from kws.training.evaluation import evaluate, predict, write_predictions_csv
from kws.training.history import History
from kws.training.loop import fit
from kws.training.runtime import resolve_precision, seed_everything

__all__ = [
    "History",
    "evaluate",
    "fit",
    "load_model",
    "load_training_state",
    "predict",
    "resolve_device",
    "resolve_precision",
    "seed_everything",
    "write_predictions_csv",
]
