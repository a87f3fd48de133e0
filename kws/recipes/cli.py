"""The reference models' verbs (`kws.cli` lists them under "try the kit"):

    kws tables                       parameter tables of the course architectures
    kws train RECIPE --data DIR      train a reference recipe (or a model preset) on a data folder

`kws train` says a mistake in what the user gave as argparse says a bad option
(``kws train: error: ...``, exit code 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.verbs import SEED, Arg, Verb


def _tables(args: argparse.Namespace) -> int:
    from kws.models import print_course_tables

    print_course_tables(depth=args.depth)
    return 0


def _train(args: argparse.Namespace) -> int:
    from kws.recipes import resolve_recipe  # no torch: bad input is refused before torch loads

    recipe = resolve_recipe(
        args.recipe,
        full=args.full,
        settings=args.set,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        eval_every=args.eval_every,
    )
    data = _data_root(args.data, recipe.task)
    if args.test_set is not None and not args.test_set.is_dir():
        raise FileNotFoundError(
            f"--test-set {args.test_set}: no such folder; pass a 12-class test-set folder "
            f"(_silence_/, _unknown_/, yes/, no/, ... with .wav clips)"
        )
    if args.test_set is not None and recipe.task != "kws":
        raise ValueError("--test-set is a 12-class keyword-spotting folder; speaker ID tests "
                         "on the data folder's test set")  # fmt: skip
    print(f"training {recipe.name} ({recipe.model}): {recipe.steps} steps x "
          f"{recipe.batch_size}, lr {recipe.lr:g}, into {args.out / recipe.name}")  # fmt: skip
    from kws.recipes.run import format_per_class, run_recipe

    results = run_recipe(
        recipe, data, args.out, device=args.device, seed=args.seed,
        test_set=args.test_set, resume=args.resume,
    )  # fmt: skip
    print(format_per_class(results))
    print(f"files in {results['out_dir']}")
    return 0


def _data_root(data: Path, task: str) -> Path:
    """The parent folder run_recipe expects, from it or from the dataset folder itself."""
    folder = "speech_commands_v0.02" if task == "kws" else "speaker_features"
    if (data / folder).is_dir():
        return data
    if data.name == folder and data.is_dir():
        return data.parent
    raise FileNotFoundError(
        f"--data {data}: no {folder}/ in it; pass the folder that holds {folder}/ (make one "
        f"offline with: kws synth {'speech-commands' if task == 'kws' else 'speaker-features'} "
        f"{data})"
    )


TABLES = Verb(
    "tables",
    "parameter tables of the course architectures",
    _tables,
    arguments=(Arg("--depth", type=int, default=2, help="module depth shown in the tables"),),
)  # fmt: skip

TRAIN = Verb(
    "train",
    "train a reference recipe or a model preset on a data folder",
    _train,
    mistake="error: ",  # a bad setting, said as argparse says a bad option
    arguments=(
        Arg("recipe", help="a kws.recipes name (kws_transformer, ...) or a model preset"),
        Arg("--data", type=Path, required=True,
            help="folder holding speech_commands_v0.02/ (or speaker_features/)"),
        Arg("--test-set", type=Path,
            help="a 12-class test-set folder (default: the dataset's sibling)"),
        Arg("--out", type=Path, default=Path("runs"), help="runs folder"),
        Arg("--full", action="store_true", help="FULL (GPU) recipes, not SMALL"),
        Arg("--steps", type=int, help="optimizer steps (warm-up scales along)"),
        Arg("--batch-size", type=int),
        Arg("--lr", type=float, help="peak learning rate"),
        Arg("--eval-every", type=int, help="steps between validations"),
        Arg("--set", action="append", default=[], metavar="KEY=VALUE",
            help="a model setting, e.g. --set d_model=128 (repeatable)"),
        Arg("--resume", action="store_true", help="continue from OUT/RECIPE/last.pt"),
        Arg("--device", default="auto", help="auto, cpu, cuda, ..."),
        SEED,
    ),
)  # fmt: skip
