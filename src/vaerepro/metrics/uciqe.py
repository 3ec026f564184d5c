"""UCIQE, underwater colour image quality evaluation (Yang & Sowmya 2015, IEEE TIP 24(12), Eq. 8).

``UCIQE = c1 * sigma_c + c2 * con_l + c3 * mu_s`` with ``c1, c2, c3 = 0.4680, 0.2745, 0.2576``.
The paper leaves scaling open; this follows the authors' released MATLAB ``UCIQE.m``
line by line, because that code produced the published numbers:

1. ``Lab = applycform(I, makecform('srgb2lab'))`` on the uint8 image: MATLAB's sRGB -> CIELab
   through the ICC (D50) connection space, returned in the **8-bit Lab encoding**
   ``L8 = round(L* 255/100)``, ``a8 = round(a* + 128)``, ``b8 = round(b* + 128)``. Here:
   sRGB transfer curve (IEC 61966-2-1), the Bradford-adapted sRGB->XYZ(D50) matrix of the
   ICC sRGB profile, CIE Lab against MATLAB's default ``whitepoint('ICC')``, which is the
   s15Fixed16 D50 of the ICC header: ``(0x7B6B/0x8000, 1, 0x6996/0x8000)`` =
   ``(0.964202880859375, 1, 0.82489013671875)``.
2. ``L = L8/255 + eps``, ``a = a8/255``, ``b = b8/255`` (so a and b keep the +128 offset,
   exactly as the MATLAB code does).
3. chroma ``C = sqrt(a^2 + b^2)``; saturation ``S = C / sqrt(C^2 + L^2)``; ``mu_s = mean(S)``.
   C is never 0 (a8, b8 > 0 for every sRGB colour) and ``L >= eps``, so S has no NaN.
4. ``sigma_c`` as the code computes it: ``sqrt(mean(|1 - (mean(C)/C)^2|)))`` (the code's
   comment calls it "the standard deviation of chroma"; it is a relative dispersion, not
   ``std(C)``, and we keep the code's formula).
5. ``con_l = high - low`` from ``stretchlim(L)`` with its default 1%/99% tolerances:
   histogram of L (a double image; 65536 bins in current MATLAB, 256 in old releases),
   ``low`` = first bin whose CDF exceeds 0.01, ``high`` = first bin whose CDF reaches 0.99,
   limits ``(index - 1)/(nbins - 1)``. Because ``L = L8/255`` falls exactly on a bin centre
   for both bin counts, this is ``(L8_high - L8_low)/255`` with L8 quantiles of the 8-bit
   lightness either way. MATLAB's flat-image rule is kept: if low == high, stretchlim
   returns [0, 1], so ``con_l = 1``.

Input: (H, W, 3) RGB, uint8, or float on [0, data_range] (scaled to 8-bit values first,
unrounded; the Lab encoding is then rounded as applycform does).

Which Lab matters (issue 11, item 7). The Python ports of UCIQE.m that call OpenCV's
``cvtColor(..., COLOR_BGR2LAB)`` keep every step above but get OpenCV's Lab: the same 8-bit
encoding, but the D65 sRGB matrix and D65 white, without adaptation to D50. That alone puts
their UCIQE 0.002-0.010 below this one on natural photos (0.009-0.015 on synthetic
underwater versions), and most of it is ``sigma_c`` (0.0015-0.018 of UCIQE): the code's
``sqrt(mean|1-(mean C/C)^2|)`` reacts 2-6x more to the small a*, b* shift between D50 and
D65 Lab than ``std(C)`` would. ``con_l`` moves by whole 8-bit L codes at its 1%/99%
quantiles (0.2745/255 = 0.0011 of UCIQE each, 0-2 codes), ``mu_s`` by under 0.001.
``tests/test_metrics_uciqe_matlab.py`` checks all of this against an independent port of the
released code, run with either Lab.

Not reproduced bit for bit: MATLAB's applycform reads the profile ``sRGB.icm`` (s15Fixed16
colorants, a 1024-entry tone curve interpolated by spline) and Bradford-adapts
``whitepoint('D50')`` to ``whitepoint('ICC')``. Modelling the colorants and that adaptation
changes one code in about 2% of the 2^24 colours and UCIQE by at most 3e-5 on the photos
checked; the tone-curve table is not modelled here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaerepro.metrics.images import as_image

UCIQE_WEIGHTS = (0.4680, 0.2745, 0.2576)
UCIQE_CONVENTION = (
    "uciqe-yang-sowmya-2015-matlab: applycform srgb2lab (D50-adapted sRGB, whitepoint('ICC'); "
    "not OpenCV's D65 Lab) 8-bit Lab / 255 (a,b keep +128 offset), "
    "sigma_c = sqrt(mean|1-(mean C/C)^2|) as in released code, con_l = stretchlim 1%/99% "
    "(flat image -> 1), mu_s = mean C/sqrt(C^2+L^2); weights 0.4680, 0.2745, 0.2576"
)

# Bradford-adapted sRGB (D65) -> XYZ (D50) matrix of the ICC sRGB profile (MATLAB's srgb2xyz).
_SRGB_TO_XYZ_D50 = np.array(
    [
        [0.4360747, 0.3850649, 0.1430804],
        [0.2225045, 0.7168786, 0.0606169],
        [0.0139322, 0.0971045, 0.7141733],
    ]
)
# MATLAB's whitepoint('ICC'): hex2dec('7b6b')/hex2dec('8000'), 1, hex2dec('6996')/hex2dec('8000').
_ICC_WHITE_POINT = np.array([0x7B6B / 0x8000, 1.0, 0x6996 / 0x8000])
_MATLAB_EPS = float(np.finfo(np.float64).eps)
_STRETCHLIM_BINS = 65536  # MATLAB's stretchlim uses 65536 bins for a double image
_STRETCHLIM_TOLERANCE = (0.01, 0.99)


def srgb_to_lab(rgb_unit: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (ICC D50 white) of float (..., 3) sRGB on [0, 1]; returns float64 (..., 3)."""
    linear = np.where(rgb_unit <= 0.04045, rgb_unit / 12.92, ((rgb_unit + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _SRGB_TO_XYZ_D50.T / _ICC_WHITE_POINT
    epsilon, kappa = 216.0 / 24389.0, 24389.0 / 27.0
    f = np.where(xyz > epsilon, np.cbrt(xyz), (kappa * xyz + 16.0) / 116.0)
    lightness = 116.0 * f[..., 1] - 16.0
    a_star = 500.0 * (f[..., 0] - f[..., 1])
    b_star = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a_star, b_star], axis=-1)


def lab_8bit(rgb_unit: np.ndarray) -> np.ndarray:
    """MATLAB's uint8 Lab encoding of sRGB on [0, 1]: (L*255/100, a+128, b+128), rounded, float64."""
    lab = srgb_to_lab(rgb_unit)
    encoded = np.stack([lab[..., 0] * 255.0 / 100.0, lab[..., 1] + 128.0, lab[..., 2] + 128.0], axis=-1)
    # MATLAB rounds half away from zero; all values are >= 0 here, so floor(x + 0.5) matches.
    return np.clip(np.floor(encoded + 0.5), 0.0, 255.0)


def stretchlim_contrast(lightness: np.ndarray) -> float:
    """``high - low`` of MATLAB ``stretchlim(I)`` (tolerances 0.01/0.99) for a double image on [0, 1]."""
    bins = _STRETCHLIM_BINS
    # imhist of a double image: value v falls in bin round(v * (bins - 1)).
    indices = np.clip(np.floor(lightness.ravel() * (bins - 1) + 0.5), 0, bins - 1).astype(np.int64)
    cdf = np.cumsum(np.bincount(indices, minlength=bins)) / indices.size
    low = int(np.argmax(cdf > _STRETCHLIM_TOLERANCE[0]))
    high = int(np.argmax(cdf >= _STRETCHLIM_TOLERANCE[1]))
    if low == high:  # MATLAB: "this could happen if img is flat" -> limits [0, 1]
        return 1.0
    return (high - low) / (bins - 1)


def uciqe(image: Any, *, data_range: float | None = None) -> dict[str, float | str]:
    """UCIQE of one (H, W, 3) RGB image, with its three terms.

    Returns ``{"uciqe", "sigma_c", "contrast_l", "mean_saturation", "convention"}``.
    """
    values, peak = as_image(image, data_range, require="rgb")
    lab = lab_8bit(values / peak)
    lightness = (lab[..., 0] / 255.0 + _MATLAB_EPS).ravel()
    a_channel = lab[..., 1].ravel() / 255.0
    b_channel = lab[..., 2].ravel() / 255.0
    chroma = np.sqrt(a_channel**2 + b_channel**2)  # never 0: a8, b8 > 0 for every sRGB colour
    saturation = chroma / np.sqrt(chroma**2 + lightness**2)
    mean_saturation = float(saturation.mean())
    sigma_c = float(np.sqrt(np.mean(np.abs(1.0 - (chroma.mean() / chroma) ** 2))))
    contrast_l = stretchlim_contrast(lightness)
    c1, c2, c3 = UCIQE_WEIGHTS
    return {
        "uciqe": c1 * sigma_c + c2 * contrast_l + c3 * mean_saturation,
        "sigma_c": sigma_c,
        "contrast_l": contrast_l,
        "mean_saturation": mean_saturation,
        "convention": UCIQE_CONVENTION,
    }
