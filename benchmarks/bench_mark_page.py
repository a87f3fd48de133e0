"""How fast `kws mark` starts and how fast its page loads on a large class: N hand-ins (default
300) of the three notebooks, each asking one written question (300 x 3 answers).

    python benchmarks/bench_mark_page.py [--students 300] [--loads 5] [--output-kib 200]

The class is the tests' (tests/marking_class.py: the released notebooks with the written
answers filled in, a few shared, nearly shared, empty or hostile; results written with the
grader's writers, then sealed), each notebook padded with an image output of --output-kib KiB,
the weight of an executed notebook's plots. It then times:

- the start: `MarkingSession` reading every notebook, rendering and grouping every answer
  (wall and CPU seconds);
- the page: headless Chromium, driven by selenium through chromedriver (tests/browser.py), opens
  it --loads times, each from a blank page, and the time from navigation to the first answer
  drawn with its rubric (``document.body.dataset.readyMs``, the page's own clock) is reported,
  median and worst, with the size of the question's data;
- keyboard marking: 40 marks given as fast as the page takes them (item 1, next), answers and
  marks a minute;
- one student's whole notebook: `s` pressed on a card until the notebook is drawn (the key
  sent by selenium included), --loads times on the next answers, median and worst.

Prints one JSON object. Nothing is published: the page's goal (at most 1 s) is checked by eye.
"""

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

KIT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(KIT / "tests"))  # the tests' class builder and browser driver

from browser import MISSING, chromium, click, keys, wait  # noqa: E402
from marking_class import write_class  # noqa: E402

from kws.grading.marking.server import MarkServer  # noqa: E402
from kws.grading.marking.session import MarkingSession  # noqa: E402


def pad(submissions: Path, kib: int) -> None:
    """Give the first code cell of every notebook an image output of `kib` KiB."""
    image = base64.b64encode(os.urandom(kib * 768)).decode()  # base64: 4/3 of the bytes
    for path in submissions.rglob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = next(c for c in nb["cells"] if c["cell_type"] == "code")
        code["outputs"] = [{"output_type": "display_data", "metadata": {},
                            "data": {"image/png": image, "text/plain": ["<Figure>"]}}]  # fmt: skip
        path.write_text(json.dumps(nb), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--output-kib", type=int, default=200)
    args = parser.parse_args()
    if MISSING:
        sys.exit(f"bench_mark_page.py needs a browser to drive: {MISSING}")
    with tempfile.TemporaryDirectory(prefix="kws-bench-mark-") as folder:
        root = write_class(Path(folder) / "course", args.students)
        pad(root / "submissions", args.output_kib)
        wall, cpu = time.perf_counter(), time.process_time()
        session = MarkingSession(root / "grades", solutions=KIT / "solutions", grader="bench")
        start = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
        server = MarkServer(session)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        key = "speaker_id/norm-classifier"
        data = json.dumps(session.question(key)).encode()
        loads = []
        with chromium() as browser:
            browser.get(server.url + f"#{key}")  # the token: the cookie from now on
            wait(browser, "document.body.dataset.ready === '1'")
            for _ in range(args.loads):
                browser.get("about:blank")
                browser.get(f"http://127.0.0.1:{server.port}/#{key}")
                loads.append(int(wait(browser, "document.body.dataset.readyMs")) / 1000)
            click(browser, "#group")  # one answer a card: each key press marks one answer
            click(browser, "#answer")
            marks = 40
            began = time.perf_counter()
            for _ in range(marks):
                keys(browser, "1", "j")
            wait(browser, "document.body.dataset.pending === '0'")
            seconds = time.perf_counter() - began
            opened = []  # one student's whole notebook (s) and back, on the next answers
            for _ in range(args.loads):
                keys(browser, "j")
                began = time.perf_counter()
                keys(browser, "s")
                wait(browser, "document.body.dataset.notebook !== undefined")
                opened.append(round(time.perf_counter() - began, 3))
                keys(browser, "s")
                wait(browser, "document.body.dataset.notebook === undefined")
        server.shutdown()
        print(json.dumps({
            "students": args.students,
            "questions": len(session.questions()),
            "answers": sum(len(a) for a in session.answers.values()),
            "notebook_kib": round(sum(p.stat().st_size for p in (root / "submissions").rglob(
                "*.ipynb")) / 1024 / (3 * args.students)),
            "start": {k: round(v, 2) for k, v in start.items()},
            "page_load_s": {"median": statistics.median(loads), "worst": max(loads),
                            "all": loads},
            "question_data_kib": round(len(data) / 1024),
            "keyboard": {"answers_per_minute": round(marks / seconds * 60),
                         "seconds": round(seconds, 2)},
            "notebook_open_s": {"median": statistics.median(opened), "worst": max(opened),
                                "all": opened},
            "load_average": os.getloadavg(),
        }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
