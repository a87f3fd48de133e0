"""The reference models' verbs, added by `kws.cli` to its "try the kit" group:

    kws tables                       parameter tables of the course architectures
    kws train RECIPE --data DIR      train a reference recipe (or a model preset) on a data folder

Each handler imports what it needs when it runs (`kws.models`, `kws.recipes.run`), so `kws --help`
loads no torch. A mistake in what the user gave is raised (`FileNotFoundError`, `ValueError`);
`kws.cli.main` prints it as `kws VERB: message` and exits with 2 (`kws train` says it itself,
worded as argparse words a bad option).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _tables(args: argparse.Namespace) -> int:
    from kws.models import print_course_tables

    print_course_tables(depth=args.depth)
    return 0


def _train(args: argparse.Namespace) -> int:
    from kws.recipes import resolve_recipe  # no torch: bad input is refused before torch loads

    try:
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
    except (FileNotFoundError, ValueError) as err:  # a bad setting, as argparse says a bad option
        print(f"kws train: error: {err}", file=sys.stderr)
        return 2
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


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `kws tables` and `kws train` to `commands`, the `kws` parser's subparsers."""
    tables = commands.add_parser("tables", help="parameter tables of the course architectures")
    tables.add_argument("--depth", type=int, default=2, help="module depth shown in the tables")
    tables.set_defaults(run=_tables)

    train = commands.add_parser(
        "train", help="train a reference recipe or a model preset on a data folder"
    )
    train.add_argument("recipe", help="a kws.recipes name (kws_transformer, ...) or a model preset")
    train.add_argument("--data", type=Path, required=True,
                       help="folder holding speech_commands_v0.02/ (or speaker_features/)")  # fmt: skip
    train.add_argument("--test-set", type=Path,
                       help="a 12-class test-set folder (default: the dataset's sibling)")  # fmt: skip
    train.add_argument("--out", type=Path, default=Path("runs"), help="runs folder")
    train.add_argument("--full", action="store_true", help="FULL (GPU) recipes, not SMALL")
    train.add_argument("--steps", type=int, help="optimizer steps (warm-up scales along)")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="peak learning rate")
    train.add_argument("--eval-every", type=int, help="steps between validations")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="a model setting, e.g. --set d_model=128 (repeatable)")  # fmt: skip
    train.add_argument("--resume", action="store_true", help="continue from OUT/RECIPE/last.pt")
    train.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=_train)
