"""UCIQE against an independent port of the authors' released MATLAB ``UCIQE.m``.

The released code (Yang & Sowmya 2015) is, line by line::

    cform = makecform('srgb2lab');  Img_lab = applycform(I, cform);     % uint8 in -> uint8 Lab
    Img_lum = double(Img_lab(:,:,1)) ./ 255 + eps;
    Img_a = double(Img_lab(:,:,2)) ./ 255;   Img_b = double(Img_lab(:,:,3)) ./ 255;
    Img_Chr = sqrt(Img_a(:).^2 + Img_b(:).^2);
    Img_Sat = Img_Chr ./ sqrt(Img_Chr.^2 + Img_lum(:).^2);   Aver_Sat = mean(Img_Sat);
    Aver_Chr = mean(Img_Chr);   Var_Chr = sqrt(mean(abs(1 - (Aver_Chr ./ Img_Chr).^2)));
    Tol = stretchlim(Img_lum);   Con_lum = Tol(2) - Tol(1);
    Q = 0.4680 * Var_Chr + 0.2745 * Con_lum + 0.2576 * Aver_Sat;

``reference_uciqe`` below re-implements that with plain Python loops (per-pixel Lab, an
explicit stretchlim histogram), sharing nothing with ``vaerepro.metrics.uciqe`` except the
published constants. Its Lab conversion is selectable: MATLAB's ``applycform`` sRGB -> Lab
(D50-adapted sRGB matrix, Lab against ``whitepoint('ICC')``) or OpenCV's 8-bit
``COLOR_RGB2Lab`` definition (D65 matrix and white), which the popular Python ports use.

Finding (issue 11, item 7): with every other term identical, the Lab white point alone moves
UCIQE by 0.002-0.010 on natural photos (about 0.008-0.016 on their synthetic underwater
versions), most of it through ``Var_Chr``: the released code's ``sqrt(mean|1 - (mean C / C)^2|)``
reacts 2-6x more to the small a*, b* shift between D50 and D65 Lab than ``std(C)`` would, so
the OpenCV-based ports give lower values than the released MATLAB code. stretchlim's quantisation, the /255 scaling and the saturation formula are the
same in both and contribute nothing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vaerepro.data.degradations.underwater import underwater
from vaerepro.metrics.uciqe import lab_8bit, uciqe

MATLAB_EPS = 2.0**-52

# --- the published constants ----------------------------------------------------------------

# sRGB (IEC 61966-2-1) -> XYZ, Bradford-adapted from D65 (0.95047, 1, 1.08883) to D50
# (0.96422, 1, 0.82521): the matrix of the ICC sRGB profile as published (Lindbloom's RGB/XYZ
# table). MATLAB's applycform('srgb2lab') goes through this D50 PCS.
SRGB_TO_XYZ_D50 = (
    (0.4360747, 0.3850649, 0.1430804),
    (0.2225045, 0.7168786, 0.0606169),
    (0.0139322, 0.0971045, 0.7141733),
)
# whitepoint('ICC') in MATLAB: the s15Fixed16 D50 of the ICC header, 0x7B6B/0x8000, 1, 0x6996/0x8000.
ICC_WHITE = (0x7B6B / 0x8000, 1.0, 0x6996 / 0x8000)

# OpenCV cvtColor RGB2Lab (documentation of cv::cvtColor, "RGB <-> CIE L*a*b*"): D65 matrix,
# X /= 0.950456, Z /= 1.088754; f(t) = t^(1/3) if t > 0.008856 else 7.787 t + 16/116;
# L = 116 Y^(1/3) - 16 if Y > 0.008856 else 903.3 Y; 8-bit: L*255/100, a + 128, b + 128.
SRGB_TO_XYZ_D65_OPENCV = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
OPENCV_WHITE = (0.950456, 1.0, 1.088754)


def srgb_decode(value: int) -> float:
    unit = value / 255.0
    return unit / 12.92 if unit <= 0.04045 else ((unit + 0.055) / 1.055) ** 2.4


def round_half_up(value: float) -> int:
    return min(255, max(0, math.floor(value + 0.5)))


def lab8_matlab(r: int, g: int, b: int) -> tuple[int, int, int]:
    """applycform(uint8 rgb, makecform('srgb2lab')): CIE Lab (ICC white), uint8-encoded."""
    linear = (srgb_decode(r), srgb_decode(g), srgb_decode(b))
    f = []
    for row, white in zip(SRGB_TO_XYZ_D50, ICC_WHITE, strict=True):
        t = (row[0] * linear[0] + row[1] * linear[1] + row[2] * linear[2]) / white
        f.append(math.cbrt(t) if t > 216.0 / 24389.0 else (24389.0 / 27.0 * t + 16.0) / 116.0)
    lightness = 116.0 * f[1] - 16.0
    return (
        round_half_up(lightness * 255.0 / 100.0),
        round_half_up(500.0 * (f[0] - f[1]) + 128.0),
        round_half_up(200.0 * (f[1] - f[2]) + 128.0),
    )


def lab8_opencv(r: int, g: int, b: int) -> tuple[int, int, int]:
    """OpenCV's 8-bit RGB2Lab by its documented formula (floating point, rounded)."""
    linear = (srgb_decode(r), srgb_decode(g), srgb_decode(b))
    t = [
        (row[0] * linear[0] + row[1] * linear[1] + row[2] * linear[2]) / white
        for row, white in zip(SRGB_TO_XYZ_D65_OPENCV, OPENCV_WHITE, strict=True)
    ]
    f = [math.cbrt(v) if v > 0.008856 else 7.787 * v + 16.0 / 116.0 for v in t]
    lightness = 116.0 * math.cbrt(t[1]) - 16.0 if t[1] > 0.008856 else 903.3 * t[1]
    return (
        round_half_up(lightness * 255.0 / 100.0),
        round_half_up(500.0 * (f[0] - f[1]) + 128.0),
        round_half_up(200.0 * (f[1] - f[2]) + 128.0),
    )


LAB8 = {"matlab": lab8_matlab, "opencv": lab8_opencv}


def stretchlim_reference(values: list[float], nbins: int) -> tuple[float, float]:
    """MATLAB stretchlim(I) for a double image, tolerances [0.01 0.99]: imhist, cdf, find."""
    hist = [0] * nbins
    for value in values:  # imhist of a double image: bin centres at (k - 1)/(nbins - 1)
        hist[min(nbins - 1, max(0, math.floor(value * (nbins - 1) + 0.5)))] += 1
    ilow = ihigh = None
    running = 0
    for k in range(nbins):  # 1-based bin index k + 1, as MATLAB's find returns it
        running += hist[k]
        cdf = running / len(values)
        if ilow is None and cdf > 0.01:
            ilow = k + 1
        if ihigh is None and cdf >= 0.99:
            ihigh = k + 1
    if ilow == ihigh:  # "this could happen if img is flat"
        ilow, ihigh = 1, nbins
    return (ilow - 1) / (nbins - 1), (ihigh - 1) / (nbins - 1)


def reference_uciqe(
    image: np.ndarray, lab: str = "matlab", nbins: int = 65536, sigma: str = "released"
) -> dict[str, float]:
    """The released UCIQE.m on a uint8 (H, W, 3) image, pixel by pixel.

    ``sigma="released"`` is the code's ``sqrt(mean|1-(mean C/C)^2|)``; ``"std"`` and ``"std1"``
    are the population / sample standard deviation of chroma (candidates that are *not* the code).
    """
    cache: dict[tuple[int, int, int], tuple[int, int, int]] = {}
    lum, chroma = [], []
    for r, g, b in image.reshape(-1, 3).tolist():  # MATLAB's (:) order differs; all sums are order-free
        if (r, g, b) not in cache:
            cache[(r, g, b)] = LAB8[lab](r, g, b)
        l8, a8, b8 = cache[(r, g, b)]
        lum.append(l8 / 255.0 + MATLAB_EPS)
        chroma.append(math.sqrt((a8 / 255.0) ** 2 + (b8 / 255.0) ** 2))
    count = len(chroma)
    saturation = math.fsum(c / math.sqrt(c * c + y * y) for c, y in zip(chroma, lum, strict=True)) / count
    mean_chroma = math.fsum(chroma) / count
    if sigma == "released":
        sigma_c = math.sqrt(math.fsum(abs(1.0 - (mean_chroma / c) ** 2) for c in chroma) / count)
    else:
        squares = math.fsum((c - mean_chroma) ** 2 for c in chroma)
        sigma_c = math.sqrt(squares / (count if sigma == "std" else count - 1))
    low, high = stretchlim_reference(lum, nbins)
    contrast = high - low
    return {
        "uciqe": 0.4680 * sigma_c + 0.2745 * contrast + 0.2576 * saturation,
        "sigma_c": sigma_c,
        "contrast_l": contrast,
        "mean_saturation": saturation,
    }


# --- test images ------------------------------------------------------------------------------


def photo(name: str) -> np.ndarray:
    """A natural photo shipped with scikit-image, subsampled to keep the pixel loops short."""
    from skimage import data

    return np.ascontiguousarray(getattr(data, name)()[::4, ::4])


def underwater_version(image: np.ndarray, seed: int = 1) -> np.ndarray:
    return underwater(image[None], seed=seed)[0][0]


def structured_images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    ramp = np.zeros((32, 40, 3), np.uint8)
    ramp[..., 0] = np.linspace(0, 255, 40).round().astype(np.uint8)[None, :]
    ramp[..., 1] = np.linspace(255, 0, 32).round().astype(np.uint8)[:, None]
    ramp[..., 2] = 90
    near_gray = np.clip(128 + rng.integers(-3, 4, (24, 24, 1)) + rng.integers(-1, 2, (24, 24, 3)), 0, 255)
    saturated = np.array(
        [
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [255, 255, 0],
            [0, 255, 255],
            [255, 0, 255],
            [0, 0, 0],
            [255, 255, 255],
        ],
        np.uint8,
    )
    return {
        "random-16x16": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
        "random-dark-23x19": rng.integers(0, 40, (23, 19, 3), dtype=np.uint8),
        "ramp": ramp,
        "near-gray": near_gray.astype(np.uint8),
        "saturated": np.repeat(np.repeat(saturated[None], 6, axis=0), 3, axis=1),
        "flat-blue-green": np.tile(np.array([20, 120, 140], np.uint8), (12, 12, 1)),
        "one-row": rng.integers(0, 256, (1, 150, 3), dtype=np.uint8),
    }


STRUCTURED = structured_images()


# --- (1) our function equals the independent port ----------------------------------------------


def test_published_d50_matrix_is_the_bradford_adapted_srgb_matrix():
    """The typed ICC sRGB matrix follows from the sRGB primaries, D65 and the Bradford transform."""

    def xyz(x: float, y: float) -> np.ndarray:
        return np.array([x / y, 1.0, (1.0 - x - y) / y])

    primaries = np.stack([xyz(0.64, 0.33), xyz(0.30, 0.60), xyz(0.15, 0.06)], axis=1)
    d65, d50 = np.array([0.95047, 1.0, 1.08883]), np.array([0.96422, 1.0, 0.82521])
    to_d65 = primaries * np.linalg.solve(primaries, d65)
    bradford = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
    adapt = np.linalg.solve(bradford, np.diag((bradford @ d50) / (bradford @ d65)) @ bradford)
    assert np.abs(adapt @ to_d65 - np.array(SRGB_TO_XYZ_D50)).max() < 1e-7


def test_lab_8bit_equals_the_reference_applycform_encoding_on_a_colour_grid():
    levels = list(range(0, 256, 15)) + [1, 2, 127, 128, 254]
    grid = np.array([(r, g, b) for r in levels for g in levels for b in levels], np.uint8)
    expected = np.array([lab8_matlab(*colour) for colour in grid.tolist()], float)
    assert np.array_equal(lab_8bit(grid / 255.0), expected)


@pytest.mark.parametrize("name", [*STRUCTURED, "coffee", "astronaut", "coffee-underwater", "astronaut-underwater"])
def test_uciqe_equals_the_independent_port_of_the_released_code(name):
    if name in STRUCTURED:
        image = STRUCTURED[name]
    else:
        base = photo(name.split("-")[0])
        image = underwater_version(base) if name.endswith("underwater") else base
    expected = reference_uciqe(image)
    result = uciqe(image)
    for key in ("uciqe", "sigma_c", "contrast_l", "mean_saturation"):
        assert result[key] == pytest.approx(expected[key], rel=0, abs=1e-9), key
    # float input on [0, 1] gives the same number (Lab is encoded from the same 8-bit values)
    assert uciqe(image / 255.0, data_range=1.0)["uciqe"] == pytest.approx(expected["uciqe"], rel=0, abs=1e-9)


def test_stretchlim_bin_count_does_not_matter_because_l_is_a_multiple_of_1_255():
    """Old MATLAB stretchlim used 256 bins for a double image, current MATLAB 65536: same limits."""
    for image in (STRUCTURED["random-16x16"], STRUCTURED["ramp"], photo("coffee")):
        assert reference_uciqe(image, nbins=256)["contrast_l"] == pytest.approx(
            reference_uciqe(image, nbins=65536)["contrast_l"], rel=0, abs=1e-12
        )


# --- (2) a value computed by hand ---------------------------------------------------------------


def test_uciqe_of_a_2x2_image_by_hand():
    # Pixels: black, sRGB gray 128 (twice), sRGB red. applycform('srgb2lab') uint8 encodings:
    # black (0, 128, 128); gray 128: L* = 116 * (0.2158605)^(1/3) - 16 = 53.585 -> 136.64 -> 137,
    # a = b = 128; red: Lab (54.29, 80.81, 69.89) -> (138, 209, 198).
    image = np.array([[[0, 0, 0], [128, 128, 128]], [[255, 0, 0], [128, 128, 128]]], np.uint8)
    neutral = 128 * math.sqrt(2) / 255  # chroma of black and gray: the +128 offset is kept
    red = math.sqrt(209**2 + 198**2) / 255
    mean = (3 * neutral + red) / 4
    sigma_c = math.sqrt((3 * abs(1 - (mean / neutral) ** 2) + abs(1 - (mean / red) ** 2)) / 4)
    # saturation C / sqrt(C^2 + L^2): black has L = eps, so S = 1
    saturation = (
        1
        + 2 * 128 * math.sqrt(2) / math.sqrt(2 * 128**2 + 137**2)
        + math.sqrt(209**2 + 198**2) / math.sqrt(209**2 + 198**2 + 138**2)
    ) / 4
    # stretchlim: sorted L8 = 0, 137, 137, 138; cdf 0.25 > 0.01 at L8 = 0; cdf 1 >= 0.99 at 138
    contrast = 138 / 255
    assert sigma_c == pytest.approx(0.5979825610, abs=1e-9)
    assert saturation == pytest.approx(0.8741290820, abs=1e-9)
    expected = 0.4680 * sigma_c + 0.2745 * contrast + 0.2576 * saturation
    assert expected == pytest.approx(0.6535844312, abs=1e-9)
    result = uciqe(image)
    assert result["sigma_c"] == pytest.approx(sigma_c, rel=0, abs=1e-12)
    assert result["mean_saturation"] == pytest.approx(saturation, rel=0, abs=1e-12)
    assert result["contrast_l"] == pytest.approx(contrast, rel=0, abs=1e-12)
    assert result["uciqe"] == pytest.approx(expected, rel=0, abs=1e-12)


# --- (3) the term behind the 0.002-0.010 gap to OpenCV ports -------------------------------------


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("astronaut", 0.002, 0.010),
        ("rocket", 0.002, 0.010),
        ("astronaut-underwater", 0.005, 0.020),
        ("rocket-underwater", 0.005, 0.020),
    ],
)
def test_opencv_d65_lab_alone_explains_the_gap_through_sigma_c(name, low, high):
    """Swap only the Lab conversion: the OpenCV-based port lands 0.002-0.010 lower on photos."""
    base = photo(name.split("-")[0])
    image = underwater_version(base) if name.endswith("underwater") else base
    matlab, opencv = reference_uciqe(image, lab="matlab"), reference_uciqe(image, lab="opencv")
    ours = uciqe(image)["uciqe"]
    assert ours == pytest.approx(matlab["uciqe"], rel=0, abs=1e-9)  # we are the MATLAB one
    gap = ours - opencv["uciqe"]
    assert low <= gap <= high
    # Most of it is the chroma-dispersion term; con_l moves by whole 8-bit L codes at its
    # quantiles (0.2745/255 each) and mu_s by a few 1e-4.
    sigma_part = 0.4680 * (matlab["sigma_c"] - opencv["sigma_c"])
    assert sigma_part >= 0.6 * gap
    assert abs(gap - sigma_part) <= 2 * 0.2745 / 255 + 0.001
    assert abs(0.2576 * (matlab["mean_saturation"] - opencv["mean_saturation"])) < 0.001


def test_std_of_chroma_is_not_the_released_term():
    """std(C) (N or N - 1) in place of the code's dispersion would move UCIQE by far more than 0.01."""
    image = photo("coffee")
    released = reference_uciqe(image)["uciqe"]
    for sigma in ("std", "std1"):
        assert released - reference_uciqe(image, sigma=sigma)["uciqe"] > 0.05
    # and N vs N - 1 alone is negligible at this size
    assert abs(reference_uciqe(image, sigma="std")["uciqe"] - reference_uciqe(image, sigma="std1")["uciqe"]) < 1e-4
