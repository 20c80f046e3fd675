"""opencv-python-headless: filters, edges, contours, encoders (the wheel's vendored libraries)."""
import hashlib

import cv2
import numpy as np

img = np.zeros((120, 160, 3), np.uint8)
cv2.circle(img, (80, 60), 30, (0, 255, 0), -1)
cv2.rectangle(img, (10, 10), (50, 40), (255, 0, 0), 2)
blur = cv2.GaussianBlur(img, (5, 5), 1.5)
edges = cv2.Canny(cv2.cvtColor(blur, cv2.COLOR_BGR2GRAY), 50, 150)
print("edges", int(edges.sum()))
contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
print("contours", len(contours))
for ext in (".png", ".jpg", ".webp"):
    ok, enc = cv2.imencode(ext, blur)
    dec = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    print(ext, ok, dec.shape, hashlib.sha256(enc.tobytes()).hexdigest()[:16])
print("resize", hashlib.sha256(cv2.resize(blur, (40, 30), interpolation=cv2.INTER_AREA).tobytes()).hexdigest()[:16])
