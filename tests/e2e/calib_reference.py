"""Independent numpy reference for qcc's calibration profiles (used by
check_calibration.py). Written from the method descriptions, not from qcc's
code, and deliberately naive: the histogram from raw data with numpy, the KL
search building P and Q bin by bin, the MSE by quantizing sample points.

The grid (calib/TensorStats.h): |x| in 2048 bins over [0, 2^e), 2^e the
smallest power of two above max|x| (e >= -100); bin = floor(|x| * 2^(11-e)).
"""
import math

import numpy as np

BINS = 2048
MIN_EXPONENT = -100


def exponent_for(amax):
    if amax == 0:
        return MIN_EXPONENT
    _, e = math.frexp(amax)  # amax = m * 2^e, 0.5 <= m < 1
    return max(e, MIN_EXPONENT)


def hist_from_data(x):
    """(min, max, exponent, hist) of float32 data, computed directly."""
    x = np.asarray(x, dtype=np.float32).ravel()
    amax = float(np.abs(x).max())
    e = exponent_for(amax)
    scale = np.float32(2.0 ** (11 - e))
    idx = (np.abs(x) * scale).astype(np.int64)  # exact: scale is a power of two
    return float(x.min()), float(x.max()), e, np.bincount(idx, minlength=BINS)


def decode_hist(rle):
    out = []
    for v in rle:
        out.extend([0] * (-v) if v < 0 else [v])
    return np.array(out + [0] * (BINS - len(out)), dtype=np.int64)


def clip_range(t, lo, hi):
    return max(lo, -t), min(hi, t)


def percentile_threshold(h, width, amax, p):
    target = p / 100.0 * h.sum()
    cum = np.cumsum(h)
    b = int(np.searchsorted(cum, target))  # first bin whose cumulative count reaches target
    before = cum[b - 1] if b > 0 else 0
    return min(width * (b + (target - before) / h[b]), amax)


def flatten_point_masses(h, reach=4, factor=4.0):
    """qcc's second guard: a bin j >= 1 above `factor` times the mean of its
    `reach` neighbours on each side (within [1, len)) takes that mean."""
    out = h.copy()
    for j in range(1, len(h)):
        nb = [h[k] for k in range(j - reach, j + reach + 1) if k != j and 1 <= k < len(h)]
        mean = sum(nb) / len(nb) if nb else 0.0
        if mean > 0 and h[j] > factor * mean:
            out[j] = mean
    return out


def entropy_threshold(h, width, amax, levels=128):
    """KL search as NVIDIA's pytorch-quantization describes it (bin 0 takes bin
    1's count; bin j in level floor(j * levels / i); candidates i in
    [levels, 2048]), plus qcc's guards: never clip half the data, flatten
    point masses."""
    if int(np.nonzero(h)[0][-1]) + 1 <= levels:
        return amax
    h = h.astype(np.float64)
    h[0] = h[1]
    h = flatten_point_masses(h)
    total = h.sum()
    best, best_i = math.inf, BINS
    for i in range(levels, BINS + 1):
        outliers = h[i:].sum()
        if 2 * outliers > total:
            continue
        p = h[:i].copy()
        p[i - 1] += outliers
        nonempty = h[:i] > 0
        level = np.arange(i) * levels // i
        mass = np.bincount(level, weights=h[:i], minlength=levels)
        count = np.bincount(level, weights=nonempty, minlength=levels)
        q = np.where(nonempty, mass[level] / np.maximum(count[level], 1), 0.0)
        if np.any((p > 0) & (q == 0)):
            continue
        m = p > 0
        pn, qn = p[m] / p.sum(), q[m] / q.sum()
        kl = float(np.sum(pn * np.log(pn / qn)))
        if kl < best:
            best, best_i = kl, i
    return min(best_i * width, amax)


def mse_error(h, width, lo_all, hi_all, t, sub=16):
    """Expected squared error of 8-bit quantization to [lo, hi] (0 on the
    grid, step (hi - lo) / 255, |x| above T clipped to T): each bin's values
    taken as `sub` evenly spaced points."""
    lo, hi = clip_range(t, lo_all, hi_all)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    step = (hi - lo) / 255
    if step <= 0:
        return math.inf
    nb = int(np.nonzero(h)[0][-1]) + 1
    pts = (np.arange(nb)[:, None] + (np.arange(sub)[None, :] + 0.5) / sub) * width  # magnitudes
    # Clipped values land on T (a range end is a grid point); others round.
    err = np.where(pts > t, (pts - t) ** 2, (pts - np.round(pts / step) * step) ** 2)
    return float((h[:nb] * err.mean(axis=1)).sum())


def mse_threshold(h, width, amax, lo_all, hi_all):
    """Best threshold over bin edges: a scan every 8 bins, then every bin
    around the best of the scan. Returns (threshold, its error)."""
    nb = int(np.nonzero(h)[0][-1]) + 1

    def err(i):
        return mse_error(h, width, lo_all, hi_all, min(i * width, amax))

    coarse = min(range(1, nb + 1, 8), key=err)
    best_i = min(range(max(1, coarse - 8), min(nb, coarse + 8) + 1), key=err)
    return min(best_i * width, amax), err(best_i)


def calibrated_range(entry, method, percentile=99.999):
    """[lo, hi] for one tensor entry of a profile (a dict as in the JSON)."""
    lo, hi = entry["min"], entry["max"]
    if entry["count"] == 0:
        return 0.0, 0.0
    if method == "minmax":
        return lo, hi
    h = decode_hist(entry["hist"])
    width = 2.0 ** (entry["exponent"] - 11)
    amax = max(abs(lo), abs(hi))
    if method == "percentile":
        t = percentile_threshold(h, width, amax, percentile)
    elif method == "entropy":
        # pytorch-quantization: non-negative tensors are unsigned, 2^8 levels.
        t = entropy_threshold(h, width, amax, 256 if lo >= 0 else 128)
    else:
        t = mse_threshold(h, width, amax, lo, hi)[0]
    return clip_range(float(np.float32(t)), lo, hi)
