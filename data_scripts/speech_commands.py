"""Download Google Speech Commands, or count what a downloaded copy holds.

    python data_scripts/speech_commands.py download --version v0.02 --root DATA
    python data_scripts/speech_commands.py info --root DATA

`download` puts the dataset in DATA/speech_commands_v0.02/ and the 12-class test set in
DATA/speech_commands_test_set_v0.02/ (about 2.5 GB; checked with SHA-256; rerun it to resume).
`info` prints the number of clips per class in each split.
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from pathlib import Path

from kws.data.speech_commands import (
    ARCHIVES,
    LABEL_SETS,
    URL_BASE,
    EmptySplitError,
    SpeechCommands,
    background_noise_files,
    detect_version,
    download_speech_commands,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("download", help="download and extract the dataset and the test set")
    get.add_argument("--version", choices=["v0.02", "v0.01"], default="v0.02")
    get.add_argument("--root", type=Path, required=True, help="folder to put the dataset in")
    get.add_argument("--url-base", default=URL_BASE, help=f"mirror to download from ({URL_BASE})")
    get.add_argument("--no-test-set", action="store_true", help="skip the 12-class test set")
    get.add_argument("--keep-archives", action="store_true", help="keep the .tar.gz files")
    info = commands.add_parser("info", help="count the clips per class and split")
    info.add_argument("--root", type=Path, required=True, help="the folder given to `download`")
    info.add_argument("--version", choices=["v0.02", "v0.01"], help="default: whichever is there")
    args = parser.parse_args(argv)

    if args.command == "download":
        folders = download_speech_commands(
            args.root,
            args.version,
            with_test_set=not args.no_test_set,
            url_base=args.url_base,
            keep_archives=args.keep_archives,
        )
        for name, folder in folders.items():
            print(f"{name}: {folder}")
        return 0
    return _info(args.root, args.version)


def _info(root: Path, version: str | None) -> int:
    versions = [version] if version else ["v0.02", "v0.01"]
    folders = [root / ARCHIVES[v].folder for v in versions if (root / ARCHIVES[v].folder).is_dir()]
    if not folders:
        names = " or ".join(ARCHIVES[v].folder for v in versions)
        print(f"no {names} in {root}; download it first (see --help)", file=sys.stderr)
        return 1
    usable = False  # a folder with at least one non-empty split
    for folder in folders:
        empty = {}  # subset -> why it is empty (said once under the tables)
        counts = functools.partial(_counts, folder, empty)
        labels = "35" if detect_version(folder) == "v0.02" else "30"
        splits = {s: counts(s, labels) for s in ("training", "validation", "testing")}
        lists = (folder / "validation_list.txt").is_file()
        print(f"{folder} ({'official lists' if lists else 'hash split'})")
        _print_table(splits)
        # Without _background_noise_ there is nothing to cut silence from: count it as zero.
        silence = 0.1 if background_noise_files(folder) else 0.0
        splits12 = {s: counts(s, "12", silence_fraction=silence) for s in splits}
        test_set = folder.parent / ARCHIVES[f"test_set_{detect_version(folder)}"].folder
        if test_set.is_dir():
            splits12["test12"] = SpeechCommands(folder, "test12", "12").counts()
        print(f"\n12 classes (silence {silence:.0%} and unknown 10% of the known words, seed 0)")
        _print_table(splits12)
        for why in empty.values():
            print(f"note: {why}")
        print()
        usable = usable or len(empty) < len(splits)
    return 0 if usable else 1


def _counts(folder: Path, empty: dict, subset: str, labels: str, **settings) -> dict[str, int]:
    """Clips per class of one split; zeros for an empty split, whose reason goes in `empty`."""
    try:
        return SpeechCommands(folder, subset, labels, **settings).counts()
    except EmptySplitError as error:
        empty.setdefault(subset, str(error))
        return dict.fromkeys(LABEL_SETS[labels], 0)


def _print_table(splits: dict[str, dict[str, int]]) -> None:
    names = list(next(iter(splits.values())))
    width = max(len(n) for n in [*names, "total"])
    print(f"{'':{width}}" + "".join(f"{s:>12}" for s in splits))
    for name in names:
        print(f"{name:{width}}" + "".join(f"{counts[name]:>12,}" for counts in splits.values()))
    print(f"{'total':{width}}" + "".join(f"{sum(c.values()):>12,}" for c in splits.values()))


if __name__ == "__main__":
    # Warnings (skipped files, a lopsided hash split) as one plain line each, not a source listing.
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"
    try:
        sys.exit(main())
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
