"""Build the Gradescope autograder zip (see kws.grading.gradescope for what goes in it).

    python grader/gradescope/make_autograder.py --data DATA [--out autograder.zip] [--assignment speaker_id]

Upload the zip as the assignment's autograder ("Zip file upload"); students upload their
notebook together with the outputs/ folder it wrote.
"""

import argparse
from pathlib import Path

from kws.grading.gradescope import make_autograder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="the grader's data folder (hidden labels)"
    )
    parser.add_argument("--out", type=Path, default=Path("autograder.zip"), help="zip to write")
    parser.add_argument(
        "--assignment", choices=["keyword_spotting", "speaker_id"], help="grade only this notebook"
    )
    args = parser.parse_args()
    path = make_autograder(args.out, args.data, assignment=args.assignment)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
