"""scikit-image and PyWavelets: filters, morphology, labeling, a wavelet transform."""
import numpy as np
import pywt
from skimage import data, feature, filters, measure, morphology, transform

img = data.camera()[::4, ::4].astype(float) / 255
print("otsu", round(float(filters.threshold_otsu(img)), 6))
mask = morphology.binary_opening(img > filters.threshold_otsu(img), morphology.disk(2))
print("labels", int(measure.label(mask).max()))
print("canny", int(feature.canny(img, sigma=2).sum()))
print("rescale", transform.rescale(img, 0.5, anti_aliasing=True).shape)
cA, (cH, cV, cD) = pywt.dwt2(img, "db2")
print("dwt2", cA.shape, round(float(np.abs(cD).sum()), 4))
print("wavedec", [len(c) for c in pywt.wavedec(np.arange(64.0), "haar", level=3)])
