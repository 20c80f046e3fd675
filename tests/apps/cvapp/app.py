"""numpy + opencv-python-headless (vendored libraries in *.libs) + certifi's data
through importlib.resources: prints facts that must be equal from the dist."""
import hashlib
import importlib.resources
import sys

import certifi
import cv2
import numpy as np

img = np.zeros((64, 96, 3), np.uint8)
cv2.rectangle(img, (8, 8), (60, 40), (10, 200, 30), -1)
cv2.circle(img, (70, 30), 12, (250, 20, 20), -1)
ok, png = cv2.imencode(".png", img)
back = cv2.imdecode(png, cv2.IMREAD_COLOR)
pem = importlib.resources.files("certifi").joinpath("cacert.pem").read_bytes()
print("numpy", np.__version__, "cv2", cv2.__version__)
print("image", int(img.sum()), "roundtrip", bool((back == img).all()))
print("blur", int(cv2.GaussianBlur(img, (5, 5), 0).sum()))
print("dot", float(np.arange(200.0).reshape(10, 20).dot(np.ones(20)).sum()))
print("cacert", len(pem) > 1000, hashlib.sha256(pem).hexdigest()[:12], certifi.where().endswith("cacert.pem"))
print("args", sys.argv[1:])
