"""The README.md of a student bundle (`kws release bundle`): set-up on the student's machine and
on Colab, the data each notebook needs, and how to hand in. A notebook that asks only written
questions (`Spec.written_only`) needs no data, no GPU and no `parameters` cell, and the README
asks for none of them where every notebook of the bundle is such.
"""

from __future__ import annotations

from collections.abc import Collection

from kws.spec import Spec

KEYWORD_DATA = """\
- **{names}** {need} Google Speech Commands v0.02 and its 12-class test set in `DATA_DIR`
  (default `data/`). {fetch} (2.5 GB, with a progress bar; run it again to resume an interrupted
  download); it does nothing when they are there. On Colab keep `DATA_DIR` on the runtime's disk (`/content/data`): unpacking 105,000 clips into
  Google Drive is very slow."""
# How the keyword data arrives: the notebook's own cell that calls prepare_keyword_data, or the
# same call run by the student (a notebook that does not make it, as `kws assign` writes one).
FETCH_IN_NOTEBOOK = "The notebook's *Data* cell (`prepare_keyword_data(DATA_DIR)`) downloads them"
FETCH_BY_HAND = (
    'Download them before you start, once the kit is installed: `python -c "from '
    "kws.data.prepare import prepare_keyword_data; prepare_keyword_data('data')\"`"
)
SPEAKER_DATA = """\
- **{names}** {need} the course's HW4 feature folder (`metadata.json`,
  `testdata.json`, `mapping.json` and the `uttr-*.pt` files side by side), which your instructor
  hands out; the kit cannot download it. (Some training utterances of every speaker may be kept
  back: your models are graded on utterances you never had.) Unzip it into
  `data/speaker_features/` (the default
  `DATA_DIR`) or set `DATA_DIR` to where it is. On Colab, put it in your Google Drive and mount the
  Drive (`from google.colab import drive; drive.mount("/content/drive")`), then set `DATA_DIR` to
  the folder, e.g. `/content/drive/MyDrive/speaker_features`; or upload the zip and unzip it with
  `!unzip -q speaker_features.zip -d /content/data`. The Set-up cell checks the folder and says
  what is wrong with it."""
SYNTH = {"speech_commands": "kws synth speech-commands data --preset small",
         "hw4": "kws synth speaker-features data --preset small"}  # fmt: skip


def _data_section(specs: list[Spec], fetching: Collection[str] = ()) -> str:
    """The README's data items: one per data layout of `specs`' notebooks (Speech Commands, the
    HW4 features, or what a spec's ``[data] how_to_get`` says), and the synthetic twins;
    `fetching`: the notebooks whose own code downloads Speech Commands."""
    by_layout: dict[str, list[Spec]] = {}
    written = [spec for spec in specs if spec.written_only]
    for spec in (spec for spec in specs if not spec.written_only):
        by_layout.setdefault(str(spec.data.get("layout", "")), []).append(spec)
    items = []
    for layout, group in by_layout.items():
        names = ", ".join(f"`{spec.notebook}`" for spec in group)
        need = "need" if len(group) > 1 else "needs"
        if layout == "speech_commands":
            fetch = all(spec.notebook in fetching for spec in group)
            fetch = FETCH_IN_NOTEBOOK if fetch else FETCH_BY_HAND
            items.append(KEYWORD_DATA.format(names=names, need=need, fetch=fetch))
        elif layout == "hw4":
            items.append(SPEAKER_DATA.format(names=names, need=need))
        else:
            for spec in group:
                how = spec.data.get("how_to_get") or "your instructor hands it out"
                items.append(f"- **`{spec.notebook}`** needs its data in `DATA_DIR`: {how}")
    twins = [SYNTH[layout] for layout in by_layout if layout in SYNTH]
    if twins:
        commands = " and\n  ".join(f"`{command}`" for command in twins)
        folder = " (then `DATA_DIR = data/speaker_features`)" if "hw4" in by_layout else ""
        items.append(
            "- **Offline**, or to try a notebook in seconds, the kit writes synthetic data in the "
            f"same layouts:\n  {commands}{folder}.\n  Accuracies on synthetic data say nothing "
            "about real speech."
        )
    if written:
        names = ", ".join(f"`{spec.notebook}`" for spec in written)
        items.append(f"- **{names}** {'ask' if len(written) > 1 else 'asks'} only written "
                     "questions: no data, no GPU.")  # fmt: skip
    return "\n".join(items)


def student_readme(
    notebooks: list[tuple[str, str]],
    kit: str,
    specs: list[Spec] = (),
    fetching: Collection[str] = (),
) -> str:
    """The README.md of the bundle: set-up, data and hand-in, for `notebooks` [(file, title)] of
    the assignments `specs` (the course's: its data, its notebooks' names); `fetching`: the
    notebooks whose code downloads their data (``prepare_keyword_data``). Where every one of
    `specs` is written-only, it asks for no data, GPU, settings or model files."""
    written_only = bool(specs) and all(spec.written_only for spec in specs)
    listing = "\n".join(f"- `{name}`: {title}" for name, title in notebooks)
    example = notebooks[0][0] if notebooks else "NOTEBOOK.ipynb"
    parts = [f"""# Course notebooks: set-up

{listing}
- `{kit}`: the course kit (`kws`), which the notebooks use
""", WRITTEN_START if written_only else TASKS_START, MACHINE.format(kit=kit),
             COLAB.format(kit=kit, gpu="" if written_only else COLAB_GPU,
                          n=2 if written_only else 3, m=3 if written_only else 4)]  # fmt: skip
    if not written_only:
        parts.append(COLAB_DRIVE + DATA.format(data=_data_section(list(specs), fetching)))
    parts.append((WRITTEN_HANDIN if written_only else HANDIN).format(example=example))
    return "\n".join(parts)


TASKS_START = """Each notebook's **Set-up** cell, before its settings, installs the kit where it is missing. Run
the notebooks from the top; fill in each `TODO` (it raises `NotImplementedError` until you do) and
run the self-check cell after each task: it checks your code the way the grader does.
"""
WRITTEN_START = """Each notebook's **Set-up** cell comes first: it installs the kit where it is missing. Then
answer each written question in its answer cell. The notebooks need no data, no GPU and no
settings.
"""
MACHINE = """## On your machine

Python 3.10 to 3.13. In this folder:

```bash
python -m venv .venv && . .venv/bin/activate    # Windows: .venv\\Scripts\\activate
pip install {kit} jupyterlab    # brings PyTorch (2.11 to 2.14) and the rest
jupyter lab
```
"""
COLAB_GPU = "\n2. Runtime → Change runtime type → a GPU."
COLAB = """## On Google Colab

1. File → Upload notebook, and choose the notebook.{gpu}
{n}. In the Files panel (the folder icon on the left), upload `{kit}` into `/content`, where the
   notebook runs. (If your instructor gave a web address for the kit, the notebook already installs
   from it: skip this step.)
{m}. Run the cells from the top. The Set-up cell installs the kit the first time; it keeps Colab's
   own PyTorch when that is 2.11 to 2.14 (otherwise it installs one: a few minutes, then restart
   the runtime when Colab asks).
"""
COLAB_DRIVE = """A Colab runtime forgets its files when it stops: download what you want to keep (see *Hand in*),
or set `OUT_DIR` in the `parameters` cell to a folder of your Google Drive.
"""
DATA = """
## The data

Settings come from the `parameters` cell, or from environment variables (`KWS_DATA_DIR`,
`KWS_OUT_DIR`, `KWS_STEPS`, ...).

{data}
"""
HANDIN = """## Hand in

Save the notebook, then run its last cell, *Ready to hand in?*. It checks the saved notebook and
what it wrote to `outputs/` the way the grader reads them (✓, or ✗ with the fix and the points at
stake), then writes `handin.zip`: the notebook and, per task, the `model.pt`, `config.json` and
the other files grading reads, nothing else. Upload that file. On Colab the cell checks the
notebook as it is open and downloads the zip. From a terminal, in the notebook's folder:

```bash
kws handin {example}
```

The grader re-runs the cells tagged `model`: keep them self-contained and keep their tags.
"""
WRITTEN_HANDIN = """## Hand in

Save the notebook, then run its last cell, *Ready to hand in?*. It checks the saved notebook the
way the grader reads it (each written question answered: ✓, or ✗ naming the question), then
writes `handin.zip`, the file to upload. On Colab the cell checks the notebook as it is open and
downloads the zip. From a terminal, in the notebook's folder:

```bash
kws handin {example}
```
"""
