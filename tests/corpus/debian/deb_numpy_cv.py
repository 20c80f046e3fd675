"""Debian's python3-numpy and python3-opencv (linked against the system's libraries: BLAS, FFmpeg,
GDAL, ...) and python3-certifi, whose metadata is an .egg-info of PKG-INFO and top_level.txt."""
import hashlib

import certifi
import cv2
import numpy as np

img = np.zeros((60, 80, 3), np.uint8)
cv2.circle(img, (40, 30), 20, (255, 128, 0), -1)
edges = cv2.Canny(cv2.cvtColor(cv2.GaussianBlur(img, (5, 5), 1), cv2.COLOR_BGR2GRAY), 50, 150)
print("edges", int(edges.sum()))
ok, png = cv2.imencode(".png", img)
print("png", ok, hashlib.sha256(png.tobytes()).hexdigest()[:16])
a = np.arange(36.0).reshape(6, 6) + np.eye(6)
print("solve", np.round(np.linalg.solve(a, np.ones(6)), 6).tolist())
with open(certifi.where(), "rb") as f:
    print("certifi bundle", f.read(27))
