"""The `kws` verbs that prepare a course, added by `kws.cli` to its "prepare a course" group
(with `kws gradescope`, from `kws.grading.publish.gradescope.cli`):

    kws release OUT [--data DATA]          the student bundle (`kws.release`), and which data
                                           students get
    kws release SOLUTIONS ASSIGNMENTS      the student notebooks (`kws.notebooks`) [--check]
    kws private DATA --secret FILE         the private test sets: a secret variant of the
                                           keyword clips, speaker utterances held back

Each handler imports what it needs when it runs, so `kws --help` loads none of it. A mistake in
what the user gave is raised (`FileNotFoundError`, `ValueError`); `kws.cli.main` prints it as
`kws VERB: message` and exits with 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _release(args: argparse.Namespace) -> int:
    from kws.notebooks import check_released, release_folder

    if len(args.paths) == 1:
        return _bundle(args)
    if len(args.paths) != 2:
        raise ValueError("give OUT (the student bundle) or SOLUTIONS ASSIGNMENTS (the student "
                         "notebooks)")  # fmt: skip
    bundle_only = [
        f"--{o.replace('_', '-')}"
        for o in ("solutions", "kit_url", "force", "data")
        if getattr(args, o)
    ]
    if bundle_only:
        raise ValueError(f"{', '.join(bundle_only)} is for the bundle (kws release OUT), not for "
                         "SOLUTIONS ASSIGNMENTS")  # fmt: skip
    args.solutions, args.assignments = args.paths
    if args.check:
        stale = check_released(args.solutions, args.assignments)
        for path in stale:
            print(f"out of date: {path}  (run: kws release {args.solutions} {args.assignments})")
        return 1 if stale else 0
    for path in release_folder(args.solutions, args.assignments):
        print(f"wrote {path}")
    return 0


def _bundle(args: argparse.Namespace) -> int:
    from kws.release import build_bundle

    if args.check:
        raise ValueError("--check compares SOLUTIONS with ASSIGNMENTS; give both folders")
    from kws.grading.testsets.public_only import handout

    if args.data is not None and not args.data.is_dir():
        raise FileNotFoundError(f"--data {args.data}: no such folder (the grader's --data)")
    written = build_bundle(
        args.paths[0], solutions=args.solutions, kit_url=args.kit_url, force=args.force
    )
    for path in written:
        print(f"wrote {path}")
    print(f"hand out {written[-1]} (or the folder {args.paths[0]}): never solutions/ or grader/")
    print("\n".join(handout(args.data)))
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


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add `kws release` and `kws private` to `commands`, the `kws` parser's subparsers."""
    release = commands.add_parser(
        "release",
        help="the student bundle (release OUT), or student notebooks (release SOLUTIONS ASSIGNMENTS)",
    )
    release.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="PATH",
        help="OUT: a new folder for the student bundle (notebooks, set-up README, the kit, a zip); "
        "or SOLUTIONS ASSIGNMENTS: write the student notebooks of SOLUTIONS into ASSIGNMENTS",
    )
    release.add_argument("--check", action="store_true", help="only report stale notebooks")
    release.add_argument(
        "--force", action="store_true", help="write the bundle into a non-empty OUT"
    )
    release.add_argument("--solutions", type=Path,
                         help="bundle: the solution notebooks (default: the kit's solutions/)")  # fmt: skip
    release.add_argument("--data", type=Path,
                         help="bundle: the grader's data folder, to say which of its folders "
                         "students get and which stay with the grader")  # fmt: skip
    release.add_argument("--kit-url",
                         help="bundle: where the notebooks install the kit from (default: the "
                         "archive in the bundle, next to them)")  # fmt: skip
    release.set_defaults(run=_release)

    private = commands.add_parser(
        "private",
        help="write the private test sets graded in place of the public ones (students never "
        "have them)",
    )
    private.add_argument("data", type=Path, help="the grader's --data folder")
    private.add_argument("--secret", type=Path, required=True,
                         help="the course secret's file (written when it does not exist)")  # fmt: skip
    keyword = private.add_argument_group("keyword spotting: a secret variant of the public clips")
    keyword.add_argument("--test-folder", default="speech_commands_test_set_v0.02",
                         help="the public test set under DATA (default: %(default)s)")  # fmt: skip
    keyword.add_argument("--noise", type=Path,
                         help="noise recordings (default: the dataset's _background_noise_)")  # fmt: skip
    speaker = private.add_argument_group(
        "speaker ID: utterances of every speaker held back from what students get"
    )
    speaker.add_argument("--speaker-folder", default="speaker_features",
                         help="the course's HW4 folder under DATA (default: %(default)s)")  # fmt: skip
    held = speaker.add_mutually_exclusive_group()
    held.add_argument("--per-speaker", type=int, metavar="N",
                      help="hold back N utterances of every speaker (default: 1)")  # fmt: skip
    held.add_argument("--share", type=float, metavar="F",
                      help="hold back this share of every speaker's utterances (e.g. 0.05)")  # fmt: skip
    private.set_defaults(run=_private)
