"""Build HW4 speaker features from speaker-labelled audio, or describe a features folder.

    python data_scripts/speaker_features.py build --audio AUDIO --out DATA/speaker_features \
        --hidden DATA/speaker_features_hidden [--test-fraction 0.1] [--seed 0]
    python data_scripts/speaker_features.py info --root DATA/speaker_features

`build` reads AUDIO/SPEAKER/*.wav|*.flac, computes 40-bin log-mel features (16 kHz, 25 ms window,
10 ms hop) and writes metadata.json, mapping.json, testdata.json and uttr-*.pt; the labels of the
held-out test utterances go to HIDDEN/test_labels.csv, which students must not get.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from kws.data.speaker_features import SpeakerFeatures, build_speaker_features


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="compute features from SPEAKER/*.wav|flac folders")
    build.add_argument("--audio", type=Path, required=True, help="folder of SPEAKER/ folders")
    build.add_argument("--out", type=Path, required=True, help="the student folder to write")
    build.add_argument(
        "--hidden", type=Path, help="where test_labels.csv goes (default OUT_hidden)"
    )
    build.add_argument("--test-fraction", type=float, default=0.1)
    build.add_argument("--seed", type=int, default=0)
    info = commands.add_parser("info", help="count speakers, utterances and frames")
    info.add_argument("--root", type=Path, required=True, help="a speaker-features folder")
    args = parser.parse_args(argv)

    if args.command == "build":
        out = build_speaker_features(
            args.audio, args.out, args.test_fraction, hidden_root=args.hidden, seed=args.seed
        )
        print(f"wrote {out}")
        return 0
    train = SpeakerFeatures(args.root, "train", valid_fraction=0.0)
    test = SpeakerFeatures(args.root, "test")
    print(f"{args.root}: {train.num_speakers} speakers, n_mels {train.n_mels}")
    for name, dataset in (("labelled", train), ("test", test)):
        lengths = [mel_len for _, mel_len, _ in dataset.items]
        if lengths:
            print(
                f"  {name:9s} {len(lengths):7,d} utterances, frames min {min(lengths)} / median "
                f"{statistics.median(lengths):.0f} / max {max(lengths)} ({sum(lengths) / 100 / 3600:.2f} h)"
            )
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
