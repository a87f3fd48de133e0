"""Write the offline synthetic twins of Speech Commands v0.02 and the HW4 speaker features.

    python data_scripts/synthesize.py --root DATA --preset small [--seed 0] [--only speech|speakers]

DATA gets speech_commands_v0.02/, speech_commands_test_set_v0.02/, speaker_features/ and
speaker_features_hidden/ (the test labels: keep that folder away from students). The same seed
gives byte-identical files. Presets (CPU time measured on a busy 2-core machine):

    tiny   140 clips + 48 test-set clips; 6 speakers, 48 utterances       ~4 CPU-s   (unit tests)
    small  9,000 + 1,200 clips; 50 speakers, 1,000 utterances             ~3 CPU-min (the demo;
           about 1.5 min on 2 free cores; the words ~80 CPU-s of it)
    full   105,829 + 4,890 clips of 2,618 + 250 speakers; 600 speakers,    ~55 CPU-min (~7 min
           64,666 utterances (8,000 held out): the real sizes              on 16 cores); 3.5 GB
                                                                          of clips, 3.1 GB of
                                                                          features, 6 GB of
                                                                          temporary audio
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kws.data.synthetic import PRESETS, make_speaker_features, make_speech_commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="folder to write the datasets in")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, help="processes (default: every core; tiny: 1)")
    parser.add_argument("--only", choices=["speech", "speakers"], help="write just one dataset")
    parser.add_argument("--overwrite", action="store_true", help="replace existing folders")
    args = parser.parse_args(argv)

    options = dict(
        preset=args.preset, seed=args.seed, workers=args.workers, overwrite=args.overwrite
    )
    if args.only != "speakers":
        start = time.perf_counter()
        folder = make_speech_commands(args.root, **options)
        print(f"{folder}  ({time.perf_counter() - start:.1f} s)")
    if args.only != "speech":
        start = time.perf_counter()
        folder = make_speaker_features(args.root, **options)
        print(f"{folder}  ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
