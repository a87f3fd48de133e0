"""Reading torch.save files without torch (kws.data.tensor_file): what the grader's own process
reads of HW4 test utterances and of a student's checkpoint, exactly as torch.load gives it, and
nothing that is not tensor data."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from kws.data.speaker_format import read_features
from kws.data.tensor_file import StoredTensor, TensorFileError, read_tensor_file


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "stream"])
def test_values_shapes_and_dtypes_are_torch_loads(tmp_path, zip_format):
    generator = torch.Generator().manual_seed(0)
    state = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5)).state_dict()
    state["view"] = torch.randn(6, 4, generator=generator).T  # (4, 6), not contiguous
    state["half"] = torch.randn(7, generator=generator).bfloat16()
    path = tmp_path / "state.pt"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    read = read_tensor_file(path, values=True)
    assert list(read) == list(state)
    for key, tensor in state.items():
        assert read[key].shape == tuple(tensor.shape) and read[key].numel == tensor.numel()
        assert read[key].is_floating_point() == tensor.is_floating_point()
        assert np.array_equal(
            read[key].numpy(), tensor.float().numpy() if key == "half" else tensor
        )
    assert read["1.num_batches_tracked"].dtype == "int64"


def test_a_tensor_shared_by_two_names_is_one_storage(tmp_path):
    weight = nn.Parameter(torch.zeros(4, 3))
    torch.save({"a": weight, "b": weight, "c": weight[1:]}, tmp_path / "shared.pt")
    read = read_tensor_file(tmp_path / "shared.pt")
    assert read["a"].storage is read["b"].storage is read["c"].storage
    assert (read["c"].offset, read["c"].shape) == (3, (3, 3)) and read["a"].values is None


class _RunsCode:
    def __reduce__(self):
        return (exec, ("open('ran', 'w')",))


def test_anything_but_tensor_data_is_refused_before_it_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"weight": _RunsCode()}, tmp_path / "code.pt")
    torch.save(np.zeros(3), tmp_path / "numpy.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "numpy.pt").read_bytes()[:100])
    with pytest.raises(TensorFileError, match=r"code.pt holds builtins.exec, which is not tensor"):
        read_tensor_file(tmp_path / "code.pt")
    assert not (tmp_path / "ran").exists()
    with pytest.raises(TensorFileError, match="numpy"):
        read_tensor_file(tmp_path / "numpy.pt")
    with pytest.raises(TensorFileError, match="cut.pt is not a torch.save file, or is truncated"):
        read_tensor_file(tmp_path / "cut.pt")


def test_hw4_features_read_without_torch_as_with_it(tmp_path):
    """read_features gives check_features' array and errors, in a process without torch."""
    features = torch.randn(9, 40, generator=torch.Generator().manual_seed(1))
    torch.save(features, tmp_path / "uttr-a.pt")
    torch.save(features.T.contiguous(), tmp_path / "uttr-t.pt")
    bad = features.clone()
    bad[4, 2] = float("-inf")
    torch.save(bad, tmp_path / "uttr-inf.pt")
    assert np.array_equal(read_features(tmp_path / "uttr-a.pt", 40, 9), features.numpy())
    with pytest.raises(ValueError, match="transposed\\? save features.T"):
        read_features(tmp_path / "uttr-t.pt", 40, None)
    with pytest.raises(
        ValueError, match="1 of 9 frames hold NaN or ±inf \\(the first is frame 4\\)"
    ):
        read_features(tmp_path / "uttr-inf.pt", 40, 9)
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from kws.data.speaker_format import read_features\n"
        "print(read_features(Path(sys.argv[1]), 40, 9).sum(), 'torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "uttr-a.pt")],
        capture_output=True,
        text=True,
        check=True,
    )
    total, imported = done.stdout.split()
    assert float(total) == pytest.approx(float(features.sum()), abs=1e-3) and imported == "False"


def test_a_stored_tensor_reports_its_view():
    tensor = StoredTensor(storage=None, offset=0, shape=(2, 3), stride=(3, 1))
    assert tensor.numel == 6 and tensor.dim() == 2
    with pytest.raises(TensorFileError, match="without its values"):
        tensor.numpy()
