"""Build the Gradescope autograder zip: the same as `kws gradescope` (see kws.grading.publish.gradescope.autograder).

    python grader/gradescope/make_autograder.py --data DATA [--out autograder.zip]
        [--assignment speaker_id] [--tiers FILE | --dataset NAME]

Upload the zip as the assignment's autograder ("Zip file upload"); students upload their
notebook together with the outputs/ folder it wrote.
"""

import sys

from kws.cli import main

if __name__ == "__main__":
    sys.exit(main(["gradescope", *sys.argv[1:]]))
