"""The kit's one figures file, ``kws/figures.json``, and the benchmarks that write it.

``kws demo``, notebook 01 and the documentation site quote their measurements from that file
(package data, read by ``kws.figures``). The benchmark scripts write their own section of it with
``benchlib.publish``, and nothing else writes it:

- ``bench_real_speech.py --folds K`` (with its default ``--out``): ``real_speech``, the summary
  of each cross-validated row of ``results/real_speech_cv.json``, after every fold it merges;
- ``bench_demo.py --publish``: ``demo``;
- ``bench_suite.py --publish``: ``suite`` (``suite_full`` with ``--full``);
- ``bench_grading_memory.py --publish``: ``grading``;
- ``bench_report.py --publish``: ``report``;
- ``bench_private_variant.py --publish``: ``private_variant``;
- ``bench_speaker_private.py --publish``: ``speaker_private``;
- ``bench_handin.py --publish``: ``handin``;
- ``bench_tiers.py --publish``: ``tiers``;
- ``gpu_check.py --publish SUMMARY``: ``gpu``;
- ``bench_rehearsal.py --publish``: ``rehearsal``.

    python benchmarks/figures.py    # publish the real-speech rows of results/ again

A test run of a benchmark writes to a figures file of its own (``--figures FILE``), never to the
kit's. A section of times records the machine's reference time under ``machine``
(``benchlib.reference_time``, the workload of ``benchmarks/machine.py``), so that figures from two
machines compare.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchlib import KIT_FIGURES, publish
from real_speech_runs import REAL_SPEECH_CV, REAL_SPEECH_PATCH, real_speech_section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=REAL_SPEECH_CV)
    parser.add_argument("--patch-results", type=Path, default=REAL_SPEECH_PATCH)
    parser.add_argument("--figures", type=Path, default=KIT_FIGURES)
    args = parser.parse_args(argv)
    written = publish(
        "real_speech", real_speech_section(args.results, args.patch_results), args.figures
    )
    print(f"published the real-speech rows of {args.results} into {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
