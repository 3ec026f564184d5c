"""Classical denoisers with a blind noise-level estimate.

* Noise level: the wavelet median-absolute-deviation estimate of Donoho & Johnstone
  ("Ideal spatial adaptation by wavelet shrinkage", Biometrika 1994), σ = MAD(HH₁)/0.6745,
  as implemented by ``skimage.restoration.estimate_sigma`` (averaged over channels).
* BM3D (Dabov, Foi, Katkovnik & Egiazarian, IEEE TIP 2007) for grayscale, and CBM3D (its
  colour version in the opponent colour space, ICIP 2007) for RGB, from the authors' ``bm3d``
  package (Tampere University; non-commercial licence, see README).
* Non-local means (Buades, Coll & Morel, CVPR 2005) from scikit-image, with the filter
  strength h = 0.8·σ, 5×5 patches, 13×13 search window and the fast mode, the settings
  scikit-image's documentation recommends.

Inputs and outputs are float H×W×C images on the [0, 1] scale (noisy inputs may exceed it).
"""

from __future__ import annotations

import numpy as np

from vaerepro.baselines.images import check_unit_image


def estimate_noise_sigma(noisy: np.ndarray) -> float:
    """Blind estimate of the noise standard deviation on the [0, 1] scale."""
    from skimage.restoration import estimate_sigma  # lazily: it imports scipy.stats (~1 s)

    image = check_unit_image(noisy, allow_outside=True)
    return float(estimate_sigma(image, channel_axis=-1, average_sigmas=True))


def bm3d_denoise(noisy: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """BM3D (gray) or CBM3D (RGB) with ``sigma`` on [0, 1], estimated when None."""
    image = check_unit_image(noisy, allow_outside=True)
    sigma = estimate_noise_sigma(image) if sigma is None else float(sigma)
    if not sigma > 0:
        return image.copy()  # nothing to remove; BM3D is undefined at σ = 0
    # Imported here: bm3d pulls in scipy.signal (~1.4 s), which every stage that merely
    # registers the models would otherwise pay at start-up.
    import bm3d

    if image.shape[-1] == 3:
        return np.asarray(bm3d.bm3d_rgb(image, sigma), dtype=np.float64)
    return np.asarray(bm3d.bm3d(image[..., 0], sigma), dtype=np.float64)[..., None]


def nl_means_denoise(noisy: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Non-local means with h = 0.8σ (σ estimated when None)."""
    from skimage.restoration import denoise_nl_means

    image = check_unit_image(noisy, allow_outside=True)
    sigma = estimate_noise_sigma(image) if sigma is None else float(sigma)
    return denoise_nl_means(
        image, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True, channel_axis=-1
    )
