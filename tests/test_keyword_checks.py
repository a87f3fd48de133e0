"""Notebook 01's Task 1 and Task 2 checks (kws.assignments.keyword_spotting.keyword_checks) on correct and typical wrong
student code, on the self-check's inputs and on other seeds (what the hidden grader draws)."""

import itertools
import random
from pathlib import Path

import pytest
import torch
from torch import nn

from kws import check
from kws.assignments.keyword_spotting import keyword_checks
from kws.check.selfcheck import Checker
from kws.data.cache import ClipCache, add_silence
from kws.data.speech_commands import SpeechCommands

KEYWORDS = set(keyword_checks.KEYWORDS)


def labels_ok(words, unknown_fraction, seed):
    others = [i for i, w in enumerate(words) if w not in KEYWORDS]
    count = round(unknown_fraction * (len(words) - len(others)))
    kept = set(random.Random(seed).sample(others, count))
    return [w if w in KEYWORDS else "_unknown_" if i in kept else None for i, w in enumerate(words)]


def labels_whole(words, unknown_fraction, seed):  # the lesson's mistake: _unknown_ kept whole
    return [w if w in KEYWORDS else "_unknown_" for w in words]


def labels_first(words, unknown_fraction, seed):  # the first other words, not a random draw
    others = sorted((w, i) for i, w in enumerate(words) if w not in KEYWORDS)
    count = round(unknown_fraction * (len(words) - len(others)))
    kept = {i for _, i in others[:count]}
    return [w if w in KEYWORDS else "_unknown_" if i in kept else None for i, w in enumerate(words)]


def labels_block(words, unknown_fraction, seed):  # a random contiguous block of the other clips
    others = [i for i, w in enumerate(words) if w not in KEYWORDS]
    count = round(unknown_fraction * (len(words) - len(others)))
    start = random.Random(seed).randrange(len(others) - count + 1)
    kept = set(others[start : start + count])
    return [w if w in KEYWORDS else "_unknown_" if i in kept else None for i, w in enumerate(words)]


def labels_global_random(words, unknown_fraction, seed):  # ignores the seed
    others = [i for i, w in enumerate(words) if w not in KEYWORDS]
    kept = set(random.sample(others, round(unknown_fraction * (len(words) - len(others)))))
    return [w if w in KEYWORDS else "_unknown_" if i in kept else None for i, w in enumerate(words)]


def labels_keyword_dropped(words, unknown_fraction, seed):  # 'go' left out
    return [
        None if w == "go" else label
        for w, label in zip(words, labels_ok(words, unknown_fraction, seed), strict=True)
    ]


def windows_ok(noises, count, seed, length=16000):
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        noise = noises[rng.randrange(len(noises))]
        start = rng.randrange(len(noise) - length + 1)
        rows.append(noise[start : start + length])
    return torch.stack(rows)


def windows_one_recording(noises, count, seed, length=16000):
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(noises[0]) - length + 1, (count,), generator=generator)
    return torch.stack([noises[0][s : s + length] for s in starts.tolist()])


def windows_with_gain(noises, count, seed, length=16000):
    return windows_ok(noises, count, seed, length) * 0.5


def windows_fixed_length(noises, count, seed, length=16000):
    return windows_ok(noises, count, seed)  # ignores `length`


def _failures(check_function, function, seed):
    checker = Checker("test", echo=False)
    with checker.run():
        check_function(checker, function, seed)
    return [(item.topic, item.what, item.fix) for item in checker.items if not item.passed]


@pytest.mark.parametrize("seed", [0, 1234, 987654])
def test_correct_functions_pass_on_every_seed(seed):
    assert _failures(keyword_checks.twelve_class_labels, labels_ok, seed) == []
    assert _failures(keyword_checks.silence_windows, windows_ok, seed) == []


def test_the_self_check_prints_and_passes(capsys):
    assert check.twelve_class_data(labels_ok, windows_ok)
    out = capsys.readouterr().out
    assert "✓ all 278 keyword clips keep their word" in out and "✗" not in out


@pytest.mark.parametrize(
    "function, topic, phrase",
    [
        (labels_whole, "unknown", "every other-word clip is kept"),
        (labels_first, "unknown", "draw the kept clips at random from all other words"),
        (labels_global_random, "unknown", "made from `seed`"),
        (labels_block, "unknown", "one block of neighbouring clips"),
        (labels_keyword_dropped, "keywords", "keep every clip of the ten keywords"),
    ],
)
def test_wrong_labels_fail_their_topic_with_the_fix(function, topic, phrase):
    failures = _failures(keyword_checks.twelve_class_labels, function, 4321)
    assert failures and {t for t, _, _ in failures} == {topic}
    assert any(phrase in fix for _, _, fix in failures)


@pytest.mark.parametrize(
    "function, phrase",
    [
        (windows_one_recording, "pick the recording at random"),
        (windows_with_gain, "sample for sample"),
        (windows_fixed_length, "returns (20, 16000)"),
    ],
)
def test_wrong_windows_fail_with_the_fix(function, phrase):
    failures = _failures(keyword_checks.silence_windows, function, 0)
    assert failures and all(topic == "silence" for topic, _, _ in failures)
    assert any(phrase in what or phrase in fix for _, what, fix in failures)


def test_a_todo_stops_at_the_first_function():
    def todo_labels(words, unknown_fraction, seed):
        raise NotImplementedError("TODO: first")

    def todo_windows(noises, count, seed, length=16000):
        raise NotImplementedError("TODO: second")

    with pytest.raises(NotImplementedError, match="TODO: first"):
        check.twelve_class_data(todo_labels, todo_windows)


def test_each_unwritten_function_shows_its_own_todo(capsys):
    def todo_labels(words, unknown_fraction, seed):
        raise NotImplementedError("TODO: first")

    def todo_windows(noises, count, seed, length=16000):
        raise NotImplementedError("TODO: second")

    with pytest.raises(NotImplementedError):
        check.twelve_class_data(todo_labels, todo_windows)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("✗ twelve_class_labels(") and lines[0].endswith("TODO: first")
    assert lines[1].startswith("✗ silence_windows(") and lines[1].endswith("TODO: second")


def test_a_block_draw_passes_on_shuffled_clips_but_not_on_grouped_ones():
    """The self-check's own clip list is shuffled, the notebook's is grouped by word: a block
    of neighbouring clips looks random in the first and holds a few words in the second."""
    checker = Checker("test", echo=False)
    with checker.run():
        keyword_checks.twelve_class_labels(checker, labels_block, 0)
    shuffled, grouped = [i for i in checker.items if "different words" in i.what]
    assert shuffled.passed and "grouped by word" not in shuffled.what
    assert not grouped.passed and "of a clip list grouped by word" in grouped.what
    words = keyword_checks.word_clips(0)
    grouped = keyword_checks.grouped_by_word(words)
    runs = [word for word, _ in itertools.groupby(grouped)]
    assert sorted(grouped) == sorted(words) and len(runs) == len(set(words))  # one run per word


# ---- Task 2 --------------------------------------------------------------------------------------


class Tokenizer(nn.Module):
    """Two 3x3 stride-2 convolutions, frequency x channels into one token per time step."""

    def __init__(self, n_mels=40, d_model=64, channels=32, wrong_lengths=False):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        frequencies = (n_mels + 1) // 2
        frequencies = (frequencies + 1) // 2
        self.proj = nn.Linear(channels * frequencies, d_model)
        self.wrong_lengths = wrong_lengths

    def forward(self, features, lengths):
        h = self.conv(features[:, None])  # (B, C, T', F')
        B, C, T, F = h.shape
        tokens = self.proj(h.permute(0, 2, 1, 3).reshape(B, T, C * F))  # (B, T', D)
        if self.wrong_lengths:
            return tokens, lengths // 4  # not the convolutions' output length
        for _ in range(2):
            lengths = (lengths - 1) // 2 + 1  # floor((L + 2 - 3) / 2) + 1
        return tokens, lengths


class WrongLengths(Tokenizer):
    def __init__(self, n_mels=40, d_model=64, channels=32):
        super().__init__(n_mels, d_model, channels, wrong_lengths=True)


@pytest.mark.parametrize("seed", [0, 77])
def test_conv_tokenizer_lengths(seed):
    assert _failures(keyword_checks.conv_tokenizer, Tokenizer, seed) == []
    failures = _failures(keyword_checks.conv_tokenizer, WrongLengths, seed)
    assert failures and all(topic == "lengths" for topic, _, _ in failures)
    assert "floor((L + 2 x padding - kernel) / stride) + 1" in failures[0][2]


class TinyKWT(nn.Module):
    """Waves (B, S) -> tokens of a frame-level stem or one token per frame and mel bin."""

    def __init__(self, per_bin=False, layers=2, heads=2, n_mels=40):
        super().__init__()
        from kws.data.features import LogMel
        from kws.models import TransformerEncoder, TransformerEncoderLayer

        self.frontend = LogMel(n_mels=n_mels)
        self.per_bin = per_bin
        self.tokenizer = Tokenizer(n_mels, 16, 4)
        self.bin = nn.Linear(1, 16)
        layer = TransformerEncoderLayer(16, heads, 32, 0.0, norm_first=True)
        self.encoder = TransformerEncoder(layer, layers)
        self.classifier = nn.Linear(16, 12)

    def forward(self, waves):
        features = self.frontend(waves)  # (B, T, F)
        if self.per_bin:
            tokens = self.bin(features.reshape(len(waves), -1, 1))  # (B, T x F, D)
        else:
            tokens = self.tokenizer(features, torch.full((len(waves),), features.shape[1]))[0]
        h = torch.cat([tokens.new_zeros(len(waves), 1, 16), tokens], dim=1)  # CLS first
        return self.classifier(self.encoder(h)[:, 0])


def test_token_budget_reads_what_runs(capsys):
    assert check.token_budget(TinyKWT())
    out = capsys.readouterr().out
    # 101 frames -> 51 -> 26 tokens + CLS; 2 layers x 2 heads x 27² x 4 bytes x 256 clips
    assert "✓ 27 tokens (CLS included)" in out
    assert f"{2 * 2 * 27**2 * 4 * 256 / 2**20:,.1f} MiB over 2 attention computations" in out
    result = check.token_budget(TinyKWT(per_bin=True))
    assert not result
    assert "✗ 4,041 tokens (CLS included)" in capsys.readouterr().out
    failed = {item.topic for item in result.failures}
    assert failed == {"tokens", "memory"}


def test_memory_alone_can_be_over_the_budget():
    checker = Checker("budget", echo=False)
    limits = keyword_checks.limits("tokens")
    n = limits["max_tokens"]  # at the token limit, with many layers and heads
    keyword_checks.attention_budget(checker, [[8 * n * n, n]] * 12)
    assert [item.topic for item in checker.items if not item.passed] == ["memory"]


# ---- the data the notebook builds from them -------------------------------------------------------

SAMPLE = Path(__file__).parent / "data" / "speech_commands_v0.02_flac_sample"  # yes, no, bed
pytestmark = pytest.mark.filterwarnings("ignore:.*speech_commands_v0.02_flac_sample:UserWarning")


def test_with_labels_and_add_silence_build_a_12_class_cache(tmp_path):
    from kws.data.cache import cache_clips

    words35 = SpeechCommands(SAMPLE, "testing", labels="35")
    words = [words35.classes[clip.label] for clip in words35.items]
    labels = labels_ok(words, 0.5, 0)
    assert sorted(labels) == ["_unknown_", "no", "yes"]
    twelve = words35.with_labels(labels)
    assert len(twelve) == sum(label is not None for label in labels)
    assert twelve.classes[0] == "_silence_" and twelve.labels == "12"
    kept = [label for label in labels if label is not None]
    assert [twelve.classes[clip.label] for clip in twelve.items] == kept
    cache = cache_clips(twelve, cache_dir=tmp_path)
    windows = torch.rand(3, 16000) - 0.5
    full = add_silence(cache, windows, seed=0)
    assert isinstance(full, ClipCache) and len(full) == len(cache) + 3
    assert full.labels[-3:].tolist() == [0, 0, 0]
    gain = full.gains[-1]
    torch.testing.assert_close(full.clip(len(full) - 1), windows[-1] * gain, atol=1e-4, rtol=0)


def test_with_labels_and_add_silence_name_the_fix():
    words35 = SpeechCommands(SAMPLE, "testing", labels="35")
    with pytest.raises(ValueError, match="give one per clip"):
        words35.with_labels(["yes"])
    with pytest.raises(ValueError, match="'cat' is not one of the ten keywords"):
        words35.with_labels(["cat"] * len(words35))
    cache = ClipCache(
        torch.zeros(1, 16000, dtype=torch.int16),
        torch.ones(1),
        torch.zeros(1, dtype=torch.int64),
        torch.zeros(1, dtype=torch.int64),
        ("_silence_", "_unknown_"),
        ("a",),
    )
    with pytest.raises(ValueError, match=r"give a float tensor \(K, 16000\)"):
        add_silence(cache, torch.zeros(2, 8000), seed=0)


@pytest.mark.parametrize("fast_path", [True, False])
def test_attention_sizes_of_torch_and_written_out_attention(fast_path):
    from kws.tracing.trace import trace_forward

    class Explicit(nn.Module):  # a softmax over (B, H, N, N) scores, written out
        def forward(self, x):
            q = x.view(2, 5, 3, 4).transpose(1, 2)  # (B, H, N, hs)
            return (q @ q.transpose(-2, -1)).softmax(dim=-1) @ q

    layer = nn.TransformerEncoderLayer(12, 3, 24, 0.0, batch_first=True)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    torch.backends.mha.set_fastpath_enabled(fast_path)
    try:
        sizes = trace_forward(encoder, torch.randn(2, 5, 12)).attention_sizes
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    assert sizes == [[3 * 5 * 5, 5]] * 2
    assert trace_forward(Explicit(), torch.randn(2, 5, 12)).attention_sizes == [[3 * 5 * 5, 5]]
