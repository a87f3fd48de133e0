import json

import pytest
import torch
from torch import nn

from kws.models import PRESETS, build_model, from_config, model_config
from kws.models.losses import AMSoftmax, CosineClassifier
from kws.models.pooling import SelfAttentionPooling
from kws.models.speaker_models import criterion
from kws.models.transformer import TransformerEncoderLayer
from kws.params import count_parameters

SPEAKER_PRESETS = ["hw4_sample", "speaker_transformer", "speaker_conformer"]
# Fewer layers keep the float64 checks fast; every other setting is the preset's own.
FEWER_LAYERS = {
    "conv_stem_transformer": {"num_layers": 1},
    "kwt1": {"depth": 2},
    "kwt2": {"depth": 1},
    "kwt3": {"depth": 1},
    "patch_transformer": {"num_layers": 1},
    "speaker_transformer": {"num_layers": 1},
    "speaker_conformer": {"num_layers": 1},
}


def _small_model(name, **overrides):
    torch.manual_seed(0)
    return build_model(name, **FEWER_LAYERS.get(name, {}), **overrides).double().eval()


def _example(name, batch=2, seed=0):
    """A small float64 batch for a preset: waveforms (B, S) or HW4 features (B, T, 40)."""
    generator = torch.Generator().manual_seed(seed)
    if name in SPEAKER_PRESETS:
        return torch.randn(batch, 23, 40, generator=generator, dtype=torch.float64)
    return 0.1 * torch.randn(batch, 8000, generator=generator, dtype=torch.float64)


def test_course_architectures_have_the_course_parameter_counts():
    assert count_parameters(build_model("conv_stem_transformer")) == 2_147_404
    assert count_parameters(build_model("conv_stem_transformer", n_classes=31)) == 2_152_287
    assert count_parameters(build_model("crnn_attention")) == 1_507_149
    hw4 = build_model("hw4_sample")
    assert count_parameters(hw4) == 125_896
    assert count_parameters(hw4.encoder_layer) == 67_536
    layer = TransformerEncoderLayer(d_model=256, nhead=4, dim_feedforward=512)
    assert count_parameters(layer) == 527_104
    reference = nn.TransformerEncoderLayer(256, 4, 512, batch_first=True)
    assert count_parameters(reference) == 527_104


def test_conv_stem_transformer_blocks_and_head_count_do_not_matter():
    model = build_model("conv_stem_transformer")
    assert count_parameters(model.stem) == 35_648  # convs + BN + Linear(64, 256)
    assert model.cls_token.numel() == 256
    assert len(model.encoder.layers) == 4
    assert count_parameters(model.encoder) == 4 * 527_104
    # The number of heads splits the same projections: the count does not change.
    assert count_parameters(build_model("conv_stem_transformer", nhead=8)) == 2_147_404


@pytest.mark.parametrize(
    "name, count, paper_count",
    [
        ("kwt1", 609_932, 611_235),
        ("kwt2", 2_399_500, 2_402_083),
        ("kwt3", 5_368_716, 5_372_579),
    ],
)
def test_kwt_parameter_counts(name, count, paper_count):
    assert count_parameters(build_model(name)) == count
    # The paper's setting (35 classes, 98 frames): within 1 % of its 607k / 2,394k / 5,361k.
    assert count_parameters(build_model(name, n_classes=35, max_frames=98)) == paper_count


def test_speaker_transformer_encoder_fits_the_lab_budget():
    model = build_model("speaker_transformer")
    assert len(model.encoder.layers) < 4
    assert count_parameters(model.encoder) == 397_440 < 500_000


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_gives_logits_of_the_right_shape(name):
    model = _small_model(name)
    logits = model(_example(name))
    n_out = 600 if name in SPEAKER_PRESETS else 12
    assert logits.shape == (2, n_out)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", list(PRESETS))
def test_padding_does_not_change_the_logits_of_a_short_example(name):
    model = _small_model(name)
    batch = _example(name)
    full, short = batch.size(1), batch.size(1) * 5 // 8
    if name in SPEAKER_PRESETS:
        batch[1, short:] = -20.0  # the HW4 padding value
    else:
        batch[1, short:] = 0.0  # clips are padded with silence
    lengths = torch.tensor([full, short])
    logits = model(batch, lengths)
    torch.testing.assert_close(logits[1], model(batch[1:, :short])[0])
    torch.testing.assert_close(logits[0], model(batch[:1])[0])
    torch.testing.assert_close(model(batch, torch.tensor([full, full])), model(batch))


@pytest.mark.parametrize(
    "name", ["kwt_tiny", "patch_transformer", "crnn_attention", "kws_conformer"]
)
def test_training_mode_reaches_every_parameter(name):
    torch.manual_seed(0)
    model = build_model(name).train()
    waveforms = _example(name).float()
    loss = nn.functional.cross_entropy(
        model(waveforms, torch.tensor([8000, 6000])), torch.tensor([1, 2])
    )
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert missing == []


def test_spec_augment_is_part_of_kws_models_and_off_in_eval():
    model = build_model("kwt_tiny", dropout=0.0)
    assert sum(1 for _ in model.frontend.parameters()) == 0
    waveforms = _example("kwt_tiny").float()
    model.eval()
    torch.testing.assert_close(model(waveforms), model(waveforms))
    model.train()
    torch.manual_seed(0)
    first = model(waveforms)
    assert not torch.allclose(first, model(waveforms))  # fresh masks on each call
    no_masks = build_model("kwt_tiny", dropout=0.0, freq_masks=0, time_masks=0).train()
    torch.testing.assert_close(no_masks(waveforms), no_masks(waveforms))


def test_build_model_overrides_reach_the_architecture():
    model = build_model("kwt_tiny", n_classes=35, dim=96, heads=3, depth=3)
    assert model.config.dim == 96 and model.preset == "kwt_tiny"
    assert len(model.encoder.layers) == 3
    assert model.encoder.layers[0].self_attn.num_heads == 3
    assert model(torch.zeros(2, 16000)).shape == (2, 35)
    speaker = build_model("speaker_transformer", n_classes=7, d_model=36, nhead=3, num_layers=1)
    assert speaker(torch.zeros(2, 5, 40)).shape == (2, 7)


def test_build_model_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="unknown model 'kwt4'"):
        build_model("kwt4")
    with pytest.raises(ValueError, match="no setting d_modle"):
        build_model("speaker_transformer", d_modle=64)
    with pytest.raises(ValueError, match="divisible|divide"):
        build_model("speaker_transformer", d_model=100, nhead=3)
    with pytest.raises(ValueError, match="pooling"):
        build_model("speaker_conformer", pooling="max")
    with pytest.raises(ValueError, match="odd|even"):
        build_model("speaker_conformer", depthwise_conv_kernel_size=4)
    with pytest.raises(ValueError, match="max_frames"):
        build_model("kwt_tiny")(torch.zeros(1, 32000))
    with pytest.raises(ValueError, match="waveforms"):
        build_model("kwt_tiny")(torch.zeros(16000))
    with pytest.raises(ValueError, match=r"\(B, T, 40\)"):
        build_model("hw4_sample")(torch.zeros(2, 5, 80))
    with pytest.raises(ValueError, match="frames per clip"):
        build_model("crnn_attention")(torch.zeros(2, 800), torch.tensor([800, 300]))


@pytest.mark.parametrize("name", list(PRESETS))
def test_config_round_trips_through_json(name):
    model = _small_model(name, dropout=0.0)
    description = json.loads(json.dumps(model_config(model)))
    assert description["class"] == type(model).__name__
    assert description["preset"] == name
    rebuilt = from_config(description).double().eval()
    assert rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict())
    example = _example(name)
    torch.testing.assert_close(rebuilt(example), model(example))


def test_from_config_and_model_config_errors():
    with pytest.raises(ValueError, match="unknown model class 'GPT'"):
        from_config({"class": "GPT", "config": {}})
    with pytest.raises(ValueError, match="build_model"):
        model_config(nn.Linear(2, 3))


def test_speaker_heads_pooling_and_batch_norm_options():
    plain = build_model("speaker_transformer")
    assert isinstance(plain.classifier, nn.Linear) and isinstance(plain.norm, nn.Identity)
    assert isinstance(criterion(plain), nn.CrossEntropyLoss)

    boss = build_model("speaker_conformer", head="cosine", margin=0.2, scale=20.0).eval()
    assert isinstance(boss.pooling, SelfAttentionPooling)
    assert isinstance(boss.norm, nn.BatchNorm1d)  # right before the classifier (TASK 2)
    assert isinstance(boss.classifier, CosineClassifier)
    cosines = boss(torch.randn(2, 9, 40), torch.tensor([9, 4]))
    assert cosines.abs().max() <= 1.0 + 1e-6
    loss_fn = criterion(boss)
    assert isinstance(loss_fn, AMSoftmax) and (loss_fn.margin, loss_fn.scale) == (0.2, 20.0)
    with pytest.raises(ValueError, match="label_smoothing"):
        criterion(boss, label_smoothing=0.1)


def test_keyword_conformer_with_utterance_norm_ignores_a_clip_level_gain():
    """A louder microphone multiplies the waveform: in log-mel that is one offset per bin, which
    the per-utterance mean removes, so the reference model's answer does not change."""
    torch.manual_seed(0)
    model = build_model("kws_conformer", n_classes=12, utterance_norm=True).eval()
    waves = 0.1 * torch.randn(2, 16000)
    with torch.no_grad():
        quiet, loud = model(waves), model(4.0 * waves)
        plain = build_model("kws_conformer", n_classes=12).eval()  # utterance_norm off
        plain.load_state_dict(model.state_dict())
        changed = plain(4.0 * waves) - plain(waves)
    assert torch.allclose(quiet, loud, atol=1e-3)
    assert changed.abs().max() > 1e-2  # without it the gain does reach the logits
