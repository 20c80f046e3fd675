"""Debian's python3-opencv: its libraries link GL (libGLX, libOpenGL via
libglvnd) without using it; the dist must import on a host without them."""
import sys

import cv2
import numpy as np

img = np.full((32, 32), 7, np.uint8)
ok, buf = cv2.imencode(".png", img)
print("cv2", cv2.__version__, ok, int(cv2.imdecode(buf, 0).sum()))
print("args", sys.argv[1:])
