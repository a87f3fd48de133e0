import pytest
import torch

from kws.models.stems import ConvSubsampling, PatchEmbedding


def _features(batch=2, frames=21, mels=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, mels, generator=generator, dtype=torch.float64)


def test_conv_subsampling_frames_layout_shapes_and_lengths():
    stem = ConvSubsampling(n_features=12, d_model=10, channels=(3, 4), layout="frames").double()
    tokens, lengths = stem(_features(), torch.tensor([21, 9]))
    assert tokens.shape == (2, 6, 10)  # 21 -> 11 -> 6 frames
    assert lengths.tolist() == [6, 3]  # 9 -> 5 -> 3
    assert stem.proj.in_features == 4 * 3  # C x F' with F' = 12 -> 6 -> 3


def test_conv_subsampling_positions_layout_is_the_course_stem():
    stem = ConvSubsampling(n_features=64, d_model=256, channels=(32, 64), layout="positions")
    tokens, lengths = stem(torch.randn(2, 101, 64), torch.tensor([101, 51]))
    assert tokens.shape == (2, 16 * 26, 256)  # 416 tokens, one per (time, frequency) position
    assert lengths.tolist() == [416, 16 * 13]
    # Conv 320 + BN 64, conv 18,496 + BN 128, Linear(64, 256) 16,640.
    assert sum(p.numel() for p in stem.parameters()) == 35_648


@pytest.mark.parametrize("layout", ["frames", "positions"])
def test_conv_subsampling_padding_does_not_change_valid_tokens(layout):
    stem = ConvSubsampling(n_features=12, d_model=10, channels=(3, 4), layout=layout).double()
    stem.eval()
    batch = _features()
    short = 9
    tokens, lengths = stem(batch, torch.tensor([21, short]))
    alone, alone_lengths = stem(batch[1:, :short], torch.tensor([short]))
    assert alone.size(1) == alone_lengths.item() == lengths[1].item()
    torch.testing.assert_close(tokens[1, : lengths[1]], alone[0])


def test_conv_subsampling_gradients_reach_the_input():
    stem = ConvSubsampling(n_features=12, d_model=10, channels=(3, 4)).double()
    features = _features().requires_grad_()
    tokens, _ = stem(features, torch.tensor([21, 9]))
    tokens.sum().backward()
    assert features.grad.abs().sum() > 0
    # The padded frames of the short example are masked before the convolutions.
    assert features.grad[1, 9:].abs().sum() == 0


def test_conv_subsampling_errors():
    with pytest.raises(ValueError, match="layout"):
        ConvSubsampling(12, 10, layout="tokens")
    with pytest.raises(ValueError, match="n_features"):
        ConvSubsampling(12, 10)(_features(mels=13))


def test_patch_embedding_grid_cls_and_position_shapes():
    embed = PatchEmbedding(n_mels=12, n_frames=21, d_model=10, patch_size=(4, 5), stride=(4, 3))
    assert embed.grid == (3, 6)  # (12 - 4) // 4 + 1, (21 - 5) // 3 + 1
    tokens, mask = embed(_features().float())
    assert tokens.shape == (2, 1 + 3 * 6, 10)
    assert mask is None
    torch.testing.assert_close(tokens[:, 0], embed.cls_token[0].expand(2, -1))
    assert embed.pos_embedding.shape == (1, 6, 3, 10)  # one vector per (time, frequency) patch


def test_patch_embedding_padding_keeps_valid_patches_and_masks_the_rest():
    embed = PatchEmbedding(12, 21, 10, patch_size=(4, 5), stride=(4, 3)).double().eval()
    batch = _features()
    tokens, mask = embed(batch, torch.tensor([21, 11]))
    alone, _ = embed(batch[1:, :11])
    n_valid = 1 + 3 * 3  # CLS + 3 frequency rows x ((11 - 5) // 3 + 1) columns
    assert (~mask).sum(1).tolist() == [19, n_valid]
    assert not mask[:, 0].any()  # the CLS token is never padding
    torch.testing.assert_close(tokens[1, :n_valid], alone[0])


def test_patch_out_only_in_training():
    embed = PatchEmbedding(
        12, 21, 10, patch_size=(4, 5), stride=(4, 3), patchout_time=2, patchout_freq=1
    ).double()
    full, _ = embed.eval()(_features())
    assert full.shape == (2, 19, 10)
    torch.manual_seed(0)
    dropped, _ = embed.train()(_features())
    assert dropped.shape == (2, 1 + 2 * 4, 10)
    # Every kept token is one of the full set's tokens (structured: same for the whole batch).
    for token in dropped[0, 1:]:
        assert torch.isclose(full[0, 1:], token).all(-1).any()


def test_random_patch_out_drops_a_fraction_per_example():
    embed = PatchEmbedding(12, 21, 10, patch_size=(4, 5), stride=(4, 3), patchout_random=0.5)
    embed = embed.double().train()
    torch.manual_seed(0)
    tokens, mask = embed(_features(), torch.tensor([21, 11]))
    assert tokens.shape == (2, 1 + 9, 10)  # 18 patches, half kept
    assert mask.shape == (2, 10)
    full, _ = embed.eval()(_features())
    for b in range(2):
        for token in tokens[b, 1:]:
            assert torch.isclose(full[b, 1:], token).all(-1).any()


def test_patch_embedding_errors():
    with pytest.raises(ValueError, match="larger than the input"):
        PatchEmbedding(n_mels=12, n_frames=21, d_model=10, patch_size=(16, 16))
    with pytest.raises(ValueError, match="patchout_random"):
        PatchEmbedding(12, 21, 10, patch_size=(4, 5), stride=(4, 3), patchout_random=1.0)
    with pytest.raises(ValueError, match="drop every patch"):
        PatchEmbedding(12, 21, 10, patch_size=(4, 5), stride=(4, 3), patchout_freq=3)
    embed = PatchEmbedding(12, 21, 10, patch_size=(4, 5), stride=(4, 3))
    with pytest.raises(ValueError, match="n_frames"):
        embed(torch.randn(2, 30, 12))
