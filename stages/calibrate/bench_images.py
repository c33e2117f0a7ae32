#!/usr/bin/python3
"""Synthetic calibration images for `make bench-calibrate` (not a fixture:
written into the build directory).  20 smooth 256x256 RGB PNGs with a
little noise, so decoding, crop-resizing and the network see realistic work;
the statistics are not what the benchmark measures.
Usage: bench_images.py OUTDIR"""
import os
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261125)
y, x = np.mgrid[0:256, 0:256] / 256.0
for i in range(20):
    f = rng.uniform(1, 6, size=3)
    ph = rng.uniform(0, 6.3, size=3)
    img = np.stack([np.sin(f[c] * (x + y * (c + 1)) + ph[c]) for c in range(3)], -1)
    img = (img * 100 + 128 + rng.normal(0, 8, img.shape)).clip(0, 255).astype(np.uint8)
    Image.fromarray(img, "RGB").save(os.path.join(out, "img%02d.png" % i))
