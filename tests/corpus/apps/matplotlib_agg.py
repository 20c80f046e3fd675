"""matplotlib with the Agg backend: a figure with text rendered to an RGBA buffer and a PNG in memory."""
import hashlib
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
t = np.linspace(0, 2 * np.pi, 200)
ax.plot(t, np.sin(t), label="sin")
ax.fill_between(t, 0, np.cos(t), alpha=0.3)
ax.set_title("corpus")
ax.legend()
fig.canvas.draw()
rgba = np.asarray(fig.canvas.buffer_rgba())
print("backend", matplotlib.get_backend(), "shape", rgba.shape)
print("pixels sha", hashlib.sha256(rgba.tobytes()).hexdigest()[:16])
buf = io.BytesIO()
fig.savefig(buf, format="png", metadata={"Software": None})
print("png magic", buf.getvalue()[:8].hex())
print("contour levels", len(ax.contour(np.outer(np.sin(t[:20]), np.cos(t[:20]))).levels))
