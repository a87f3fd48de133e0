"""The honest mistakes of the grader corpus: what students really write, not cheats. Each case
copies the reference hand-in of notebook 01, 02 or 03, or of the keyword template's solution
(docs/keyword_template/, an own assignment; `template_cases`), its trained weights kept, so only
the code changes, and plants one mistake in a model cell; `HonestCase.lost` declares the tests it breaks,
each with a phrase its reason must give (the cause, never a word of tampering); every other test
keeps its points, and no case is filed under tampering.

    build_honest_corpus(reference, corpus_dir)  # one folder per case
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from corpus_grading import build_cases
from corpus_keyword_model import KWS, _edit_cell

KEYWORD = "01_keyword_spotting.ipynb"
SPEAKER = "02_speaker_id.ipynb"
PATCH = "03_patch_transformer.ipynb"
# The tasks whose outputs a case's notebook needs.
TASKS = {KEYWORD: ["kws"], SPEAKER: ["task1", "task2", "task3"], PATCH: ["patch"]}
# What the keyword spotter's own cell imports first; a case adds its imports after it.
KWS_IMPORTS = "from kws.data.features import LogMel, SpecAugment"
MASKED = "waves = waves.masked_fill(lengths_to_mask(lengths, S), 0.0)  # as if each clip were alone"
ATTENTION = "class MultiHeadSelfAttention("
PATCHOUT = "class StructuredPatchout("
DRAWS = "draws random numbers in eval mode"


@dataclass(frozen=True)
class HonestCase:
    name: str
    notebook: str
    damage: Callable[[Path], None]  # edits the copied hand-in folder
    lost: dict[str, str] = field(default_factory=dict)  # test name's start -> reason's phrase


def _keyword(*edits: tuple[str, str]) -> Callable[[Path], None]:
    return _edit_cell(KWS, *edits, notebook=KEYWORD)


def _speaker(*edits: tuple[str, str]) -> Callable[[Path], None]:
    return _edit_cell(ATTENTION, *edits, notebook=SPEAKER)


def _spoiled(cause: str) -> dict[str, str]:
    """Notebook 01's Task 3 tests that a forward which gives other logits on each call spoils,
    each naming `cause` as its fix."""
    return {
        "Task 3: KeywordTransformer's logits match": cause,
        "Task 3: samples after a clip's length": cause,
        "Task 3: KeywordTransformer is deterministic": cause,
    }


def honest_cases() -> list[HonestCase]:
    return [
        HonestCase(
            "gaussian_noise_in_eval",
            KEYWORD,
            _keyword(
                (
                    "features = self.specaugment(self.frontend(waves))  # (B, T, F)",
                    "features = self.specaugment(self.frontend(waves))  # (B, T, F)\n"
                    "        features = features + 1e-3 * torch.randn_like(features)",
                )
            ),
            _spoiled(f"{DRAWS}: model (KeywordTransformer): torch"),
        ),
        HonestCase(
            "python_random_time_shift",
            KEYWORD,
            _keyword(
                (KWS_IMPORTS, f"import random\n\n{KWS_IMPORTS}"),
                (
                    MASKED,
                    f"{MASKED}\n        if random.random() < 0.5:  # a time shift, left on\n"
                    "            waves = torch.roll(waves, random.randint(-160, 160), dims=1)",
                ),
            ),
            # under the checks' seeds the pipeline's one call takes no shift: its test stands
            {
                test: phrase
                for test, phrase in _spoiled(f"{DRAWS}: model (KeywordTransformer): random").items()
                if not test.endswith("logits match")
            },
        ),
        HonestCase(
            "numpy_random_gain",
            KEYWORD,
            _keyword(
                (KWS_IMPORTS, f"import numpy as np\n\n{KWS_IMPORTS}"),
                (MASKED, f"{MASKED}\n        waves = waves * float(np.random.uniform(0.9, 1.1))"),
            ),
            _spoiled(f"{DRAWS}: model (KeywordTransformer): numpy"),
        ),
        HonestCase(
            "functional_dropout_before_the_classifier",
            KEYWORD,
            _keyword(
                (KWS_IMPORTS, f"import torch.nn.functional as F\n\n{KWS_IMPORTS}"),
                (
                    "return self.classifier(self.norm(h[:, 0]))",
                    "return self.classifier(F.dropout(self.norm(h[:, 0]), 0.1))",
                ),
            ),
            _spoiled(f"{DRAWS}: model (KeywordTransformer): torch"),
        ),
        HonestCase(  # tqdm starts a monitor thread: no evidence of anything
            "progress_bar_in_forward",
            KEYWORD,
            _keyword(
                (KWS_IMPORTS, f"from tqdm.auto import tqdm\n\n{KWS_IMPORTS}"),
                (
                    "h = self.encoder(h, src_key_padding_mask=padding)  # (B, 1 + N, D)",
                    "for _ in tqdm(range(1), desc='encoder', leave=False):\n"
                    "            h = self.encoder(h, src_key_padding_mask=padding)  # (B, 1 + N, D)",
                ),
            ),
        ),
        HonestCase(
            "print_in_forward",
            KEYWORD,
            _keyword((MASKED, f"{MASKED}\n        print('waves', tuple(waves.shape))")),
        ),
        HonestCase(
            "functional_dropout_in_attention",
            SPEAKER,
            _speaker(
                (
                    "weights = self.dropout(scores.softmax(dim=-1))",
                    "weights = F.dropout(scores.softmax(dim=-1), 0.1)",
                ),
            ),
            {
                "Task 1: MultiHeadSelfAttention": DRAWS,
            },
        ),
        HonestCase(  # Task 3's other checks use a reference tokenizer: only "batch" sees it
            "batchnorm_on_batch_statistics",
            KEYWORD,
            _keyword(
                (
                    "x = self.activation(norm(conv(x)))",
                    "x = self.activation(torch.nn.functional.batch_norm(conv(x), None, None, "
                    "norm.weight, norm.bias, training=True))",
                )
            ),
            {
                "Task 3: KeywordTransformer is deterministic": "your ConvTokenizer's BatchNorm "
                "(tokenizer.norms.0, tokenizer.norms.1, tokenizer.norms.2) uses the batch's "
                "statistics in eval mode"
            },
        ),
        HonestCase(
            "progress_bar_over_the_layers",
            SPEAKER,
            _speaker(
                ("import math\n", "import math\n\nfrom tqdm.auto import tqdm\n"),
                ("for layer in self.layers:", "for layer in tqdm(self.layers, leave=False):"),
            ),
        ),
        HonestCase(  # a sum in float64, cast back: the checks follow it into float32
            "float64_scores_cast_back",
            SPEAKER,
            _speaker(
                (
                    "scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, T, T)",
                    "scores = (q.double() @ k.double().transpose(-2, -1)).float() / math.sqrt(\n"
                    "            self.head_dim\n        )  # (B, H, T, T)",
                ),
            ),
        ),
        HonestCase(
            "attention_under_no_grad",
            SPEAKER,
            _speaker(
                (
                    "scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (B, H, T, T)",
                    "with torch.no_grad():\n"
                    "            scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)",
                ),
            ),
            # the values' path still trains every projection, and eval needs no gradient
        ),
        HonestCase(
            "inverted_padding_mask",
            SPEAKER,
            _speaker(
                (
                    'scores = scores.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))',
                    'scores = scores.masked_fill(~key_padding_mask[:, None, None, :], float("-inf"))',
                ),
            ),
            {
                "Model builds from config.json and loads model.pt": "outputs NaN scores",
                "Accuracy on the hidden test labels": "outputs NaN scores",
                "Task 1: MultiHeadSelfAttention gives padded keys no attention": "hold NaN or inf",
            },
        ),
        HonestCase(
            "padding_mask_cached_on_self",
            KEYWORD,
            _keyword(
                (
                    "padding = lengths_to_mask(token_lengths + 1, N + 1)  # (B, 1 + N), True = padded",
                    "if getattr(self, '_padding', None) is None or self._padding.shape != (B, N + 1):\n"
                    "            self._padding = lengths_to_mask(token_lengths + 1, N + 1)\n"
                    "        padding = self._padding  # (B, 1 + N), True = padded",
                ),
            ),
            {"Task 3: samples after a clip's length": "padded tokens are not masked"},
        ),
        HonestCase(  # patch-out left on in eval: the trained model drops patches there too
            "patchout_left_on_in_eval",
            PATCH,
            _edit_cell(
                PATCHOUT,
                ("        if not self.training:\n            return grid\n", ""),
                notebook=PATCH,
            ),
            {"Task 3: in eval mode patch-out keeps every patch": "must only drop in training"},
        ),
        HonestCase(  # a numpy round trip of the features: no weight before it, nothing lost
            "numpy_round_trip_of_the_features",
            KEYWORD,
            _keyword(
                (
                    "features = self.specaugment(self.frontend(waves))  # (B, T, F)",
                    "features = self.specaugment(self.frontend(waves))  # (B, T, F)\n"
                    "        features = torch.from_numpy(features.detach().cpu().numpy()).to(waves.device)",
                )
            ),
        ),
        HonestCase(
            "frame_lengths_off_by_one",
            KEYWORD,
            _keyword(
                (
                    "frame_lengths = self.frontend.num_frames(lengths)  # (B,)",
                    "frame_lengths = self.frontend.num_frames(lengths) - 1  # (B,)",
                )
            ),
            # the padding mask follows the shorter lengths alike in a batch and alone
            {"Task 3: KeywordTransformer's logits match": "the steps are"},
        ),
        HonestCase(
            "layerdrop_left_on_in_eval",
            SPEAKER,
            _speaker(
                ("import math\n", "import math\nimport random\n"),
                (
                    "        for layer in self.layers:\n            x = layer(x, key_padding_mask)\n",
                    "        for layer in self.layers:\n"
                    "            if random.random() < 0.1:  # LayerDrop, left on in eval\n"
                    "                continue\n"
                    "            x = layer(x, key_padding_mask)\n",
                ),
            ),
        ),
        HonestCase(  # the padded frames' outputs counted in the mean: only that test sees it
            "mean_over_padded_frames",
            SPEAKER,
            _speaker(
                ("        h = h.masked_fill(padding[:, :, None], 0.0)\n", ""),
                ("pooled = h.sum(dim=1) / lengths[:, None].to(h.dtype)", "pooled = h.mean(dim=1)"),
            ),
            {
                "Task 1: SpeakerTransformer ignores padded frames": "your pooling averages over "
                "padded frames: use `lengths`"
            },
        ),
        HonestCase(  # an in-place ReLU on a fresh tensor: autograd needs nothing it overwrites
            "in_place_relu",
            SPEAKER,
            _speaker(
                (
                    "self.dropout2(self.linear2(self.dropout(F.relu(self.linear1(x)))))",
                    "self.dropout2(self.linear2(self.dropout(F.relu_(self.linear1(x)))))",
                ),
            ),
        ),
    ]


# ---- an own assignment: the keyword template (docs/keyword_template/) -----------------------------

TEMPLATE_NOTEBOOK = "my_keywords.ipynb"
TEMPLATE_MODEL = "class KeywordCNN("
TEMPLATE_IMPORTS = "from kws.data.features import LogMel"
TEMPLATE_FEATURES = "h = normalize_frames(self.features(waves)).transpose(1, 2)  # (B, n_mels, T)"


def _template(*edits: tuple[str, str]) -> Callable[[Path], None]:
    return _edit_cell(TEMPLATE_MODEL, *edits, notebook=TEMPLATE_NOTEBOOK)


def template_cases() -> list[HonestCase]:
    """Honest mistakes in the keyword template's solution, an instructor's own assignment (no
    determinism test: randomness in eval costs nothing the template grades)."""
    return [
        HonestCase(
            "template_python_random_time_shift",
            TEMPLATE_NOTEBOOK,
            _template(
                (TEMPLATE_IMPORTS, f"import random\n\n{TEMPLATE_IMPORTS}"),
                (
                    TEMPLATE_FEATURES,
                    "if random.random() < 0.5:  # a time shift, left on in eval\n"
                    "            waves = torch.roll(waves, random.randint(-160, 160), dims=1)\n"
                    f"        {TEMPLATE_FEATURES}",
                ),
            ),
        ),
        HonestCase(
            "template_progress_bar_in_forward",
            TEMPLATE_NOTEBOOK,
            _template(
                (TEMPLATE_IMPORTS, f"from tqdm.auto import tqdm\n\n{TEMPLATE_IMPORTS}"),
                ("for conv in self.layers:", "for conv in tqdm(self.layers, leave=False):"),
            ),
        ),
        HonestCase(
            "template_functional_dropout_in_eval",
            TEMPLATE_NOTEBOOK,
            _template(
                (TEMPLATE_IMPORTS, f"import torch.nn.functional as F\n\n{TEMPLATE_IMPORTS}"),
                (
                    "return self.classifier(self.norm(h.mean(dim=2)))",
                    "return self.classifier(self.norm(F.dropout(h.mean(dim=2), 0.1)))",
                ),
            ),
        ),
        HonestCase(  # normalize_frames in float64, cast back: its check follows it into float32
            "template_float64_cast_back",
            TEMPLATE_NOTEBOOK,
            _template(
                (
                    "return (x - mean) / (std + eps)  # (B, T, F)",
                    "return ((x.double() - mean) / (std + eps)).float()  # (B, T, F)",
                ),
            ),
        ),
    ]


def build_honest_corpus(
    reference: Path, corpus_dir: Path, only: Collection[str] | None = None
) -> dict[str, HonestCase]:
    """One folder per case under `corpus_dir` (those named in `only`; default all): its
    notebook and the outputs of that notebook's tasks, then its mistake."""
    built = {}
    for notebook, tasks in TASKS.items():
        cases = [case for case in honest_cases() if case.notebook == notebook]
        built |= build_cases(cases, reference, corpus_dir, notebook, tasks, only)
    return built
