"""The data verbs of the `kws` command: `kws synth` (`kws.cli` lists it under "try the kit") and
`kws private` (under "prepare a course"):

    kws synth speech-commands ROOT   offline synthetic datasets in the real layouts
    kws private DATA --secret FILE   the private test sets: a secret variant of the keyword
                                     clips, speaker utterances held back
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kws.verbs import PRESET, SEED, Arg, OneOf, Options, Verb


def _synth(args: argparse.Namespace) -> int:
    from kws.data import synthetic

    make = {
        "speech-commands": synthetic.make_speech_commands,
        "speaker-features": synthetic.make_speaker_features,
    }[args.dataset]
    folder = make(args.root, preset=args.preset, seed=args.seed, overwrite=args.overwrite)
    print(f"wrote {folder}")
    return 0


def make_private_sets(
    data: Path,
    secret: Path,
    *,
    test_folder: str = "speech_commands_test_set_v0.02",
    noise: Path | None = None,
    speaker_folder: str = "speaker_features",
    per_speaker: int | None = None,
    share: float | None = None,
) -> list[str]:
    """``kws private``: the private test set of every kind of data `data` holds, drawn with the
    course secret in the file `secret` (written first when it does not exist): the secret variant
    of the keyword test set ``data/<test_folder>`` (`kws.data.private_variant`), and utterances
    of every speaker held back from the HW4 folder ``data/<speaker_folder>``
    (`kws.data.speaker_private`: `per_speaker` each or a `share` of each speaker's, default
    `kws.data.speaker_private.PER_SPEAKER`). Every input is checked before anything is written.

    Returns:
        What was written, which folder to hand out and which to keep, as lines to print.
    """
    from kws.data.private_variant import make_private_test, read_secret
    from kws.data.speaker_private import PER_SPEAKER, plan_held_back, write_held_back

    keyword, speakers = Path(data) / test_folder, Path(data) / speaker_folder
    has_speakers = (speakers / "metadata.json").is_file()
    if not keyword.is_dir() and not has_speakers:
        raise FileNotFoundError(
            f"{keyword} is missing, and so is {speakers / 'metadata.json'}: give `kws private` "
            "the data folder that holds a public test set (the folder the grader's --data names)"
        )
    asked = per_speaker is not None or share is not None
    if not has_speakers and asked:
        raise ValueError(f"--per-speaker and --share hold back utterances of the HW4 folder "
                         f"{speakers}, which has no metadata.json")  # fmt: skip
    plan = None
    if has_speakers:  # checked (and the counts drawn) before any secret or file is written
        per_speaker = per_speaker if asked else PER_SPEAKER
        plan = plan_held_back(speakers, per_speaker, share)
    existed, lines = Path(secret).exists(), []
    if keyword.is_dir():
        folder, clips = make_private_test(data, secret, test_folder, noise)
        lines.append(f"wrote {clips:,} clips to {folder}: the grader scores them (and not the "
                     "public clips); keep them with the grader")  # fmt: skip
    if plan is not None:
        held = write_held_back(plan, read_secret(secret, create=True))
        each = f"{share:.0%} of" if share is not None else f"{per_speaker} of"
        lines.append(
            f"held back {held.held_back:,} training utterances ({each} every speaker's) into "
            f"{held.private}: the grader scores the models on them; keep them with the grader"
        )
        if held.capped:
            lines.append(f"  {len(held.capped)} speakers had too few utterances: all but one of "
                         f"theirs were held back (e.g. {held.capped[0]})")  # fmt: skip
        lines.append(
            f"hand out {held.students} ({held.kept:,} training utterances and the test "
            f"features), as the students' {speaker_folder}/ folder; keep {speakers}, "
            f"{held.private} and the hidden test labels with the grader"
        )
    if not existed:
        lines.insert(0, f"wrote a new course secret to {secret}: keep it outside the course "
                     "repository and the student bundle; the same secret writes the same "
                     "private test sets again")  # fmt: skip
    return lines


def _private(args: argparse.Namespace) -> int:
    lines = make_private_sets(
        args.data,
        args.secret,
        test_folder=args.test_folder,
        noise=args.noise,
        speaker_folder=args.speaker_folder,
        per_speaker=args.per_speaker,
        share=args.share,
    )
    print("\n".join(lines))
    return 0


SYNTH = Verb(
    "synth",
    "write an offline synthetic dataset",
    _synth,
    arguments=(
        Arg("dataset", choices=["speech-commands", "speaker-features"]),
        Arg("root", type=Path, help="parent folder of the dataset"),
        PRESET,
        SEED,
        Arg("--overwrite", action="store_true", help="replace an existing dataset"),
    ),
)  # fmt: skip

PRIVATE = Verb(
    "private",
    "write the private test sets graded in place of the public ones (students never have them)",
    _private,
    arguments=(
        Arg("data", type=Path, help="the grader's --data folder"),
        Arg("--secret", type=Path, required=True,
            help="the course secret's file (written when it does not exist)"),
        Options(
            "keyword spotting: a secret variant of the public clips",
            Arg("--test-folder", default="speech_commands_test_set_v0.02",
                help="the public test set under DATA (default: %(default)s)"),
            Arg("--noise", type=Path,
                help="noise recordings (default: the dataset's _background_noise_)"),
        ),
        Options(
            "speaker ID: utterances of every speaker held back from what students get",
            Arg("--speaker-folder", default="speaker_features",
                help="the course's HW4 folder under DATA (default: %(default)s)"),
            OneOf(
                Arg("--per-speaker", type=int, metavar="N",
                    help="hold back N utterances of every speaker (default: 1)"),
                Arg("--share", type=float, metavar="F",
                    help="hold back this share of every speaker's utterances (e.g. 0.05)"),
            ),
        ),
    ),
)  # fmt: skip
