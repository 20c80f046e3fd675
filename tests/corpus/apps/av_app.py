"""PyAV: the vendored FFmpeg libraries: encode frames to MPEG-4 in an in-memory MP4, decode them back."""
import hashlib
import io

import av
import numpy as np

buf = io.BytesIO()
with av.open(buf, mode="w", format="mp4") as out:
    stream = out.add_stream("mpeg4", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    stream.codec_context.thread_count = 1
    sizes = []
    for i in range(8):
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, : 8 * (i + 1)] = (200, 30 * i, 90)
        for pkt in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            sizes.append(pkt.size)
            out.mux(pkt)
    for pkt in stream.encode():
        sizes.append(pkt.size)
        out.mux(pkt)
print("packets", len(sizes))
buf.seek(0)
with av.open(buf, mode="r") as inp:
    frames = [f.to_ndarray(format="gray") for f in inp.decode(video=0)]
print("decoded", len(frames), frames[0].shape)
print("means", [int(f.mean()) for f in frames])
print("codecs", all(c in av.codecs_available for c in ("mpeg4", "h264", "aac")))
