"""Image feature extraction speed and memory.

1,000 m of two 180-bin images at 5 mm (200,000 rows each, float32, 30 % NaN pad gaps on one)
featurised at the NMR sampling (0.1524 m) with the default windows (0.15 / 0.5 / 1.5 m) and
patches, against one plain pass over the same arrays (a row-wise nanmean). Reports the time
ratio (target <= 10x) and the peak memory of the extraction above its input, as a multiple of
one image array (target < 2x), measured with tracemalloc (numpy allocations are traced).

Run: python benchmarks/bench_image_features.py [--length 1000] [--repeat 3] [--json out.json]
(``--json`` also writes the figures as JSON, read by benchmarks/perf_table.py).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import tracemalloc

import numpy as np

from petro.features.image import ImageFeatureParams, image_window_features


def make_images(length_m: float, step: float = 0.005, bins: int = 180, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = int(round(length_m / step))
    depth = 2000.0 + np.arange(rows) * step
    amp = rng.normal(60, 8, (rows, bins)).astype(np.float32)
    res = (10 ** rng.normal(1.0, 0.3, (rows, bins))).astype(np.float32)
    res[:, np.arange(bins) % 10 >= 7] = np.nan          # pads cover 70 %
    return depth, {"acoustic_amplitude": amp, "resistive": res}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--length", type=float, default=1000.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()
    depth, images = make_images(args.length)
    target = np.arange(depth[0] + 1, depth[-1] - 1, 0.1524)
    params = ImageFeatureParams()
    plain, feat = [], []
    for _ in range(args.repeat):            # interleaved, so machine noise hits both alike
        t = time.perf_counter()
        for v in images.values():
            np.nanmean(v, axis=1)
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        for kind, v in images.items():
            image_window_features(depth, v, target, kind, params)
        feat.append(time.perf_counter() - t)
    one = next(iter(images.values())).nbytes
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for kind, v in images.items():
        image_window_features(depth, v, target, kind, params)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    rows = depth.size
    print(f"images: 2 x {rows} rows x 180 bins ({one / 1e6:.0f} MB each), {target.size} target depths")
    print(f"plain pass (row-wise nanmean, both images): best {min(plain):.3f} s")
    print(f"feature extraction (both images):           best {min(feat):.3f} s")
    print(f"ratio: {min(feat) / min(plain):.1f}x   (target <= 10x)")
    print(f"peak extra memory: {peak / 1e6:.0f} MB = {peak / one:.2f} x one image array (target < 2x)")
    if args.json:
        res = {"benchmark": "image_features", "rows": int(rows), "bins": 180, "images": 2,
               "targets": int(target.size), "repeat": args.repeat,
               "plain_s": min(plain), "features_s": min(feat),
               "time_ratio": min(feat) / min(plain), "time_target": 10.0,
               "peak_bytes": int(peak), "image_bytes": int(one), "memory_ratio": peak / one,
               "memory_target": 2.0, "machine": f"{platform.machine()} {platform.node()}",
               "table": [
                   {"what": "image features time / one nanmean pass", "unit": "x",
                    "value": min(feat) / min(plain), "target": "<= 10x",
                    "ok": min(feat) / min(plain) <= 10.0},
                   {"what": "image features peak memory / one image", "unit": "x",
                    "value": peak / one, "target": "< 2x", "ok": peak / one < 2.0}]}
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
