"""pillow: drawing, filters, resampling, PNG/JPEG/WebP/TIFF encoders (vendored libjpeg, zlib, libwebp, libtiff)."""
import hashlib
import io

from PIL import Image, ImageDraw, ImageFilter, features

im = Image.new("RGB", (128, 96), (20, 40, 60))
d = ImageDraw.Draw(im)
d.ellipse((10, 10, 90, 80), fill=(200, 100, 50))
d.line((0, 0, 127, 95), fill=(255, 255, 255), width=3)
im = im.filter(ImageFilter.GaussianBlur(2)).resize((64, 48), Image.Resampling.LANCZOS)
print("pixels", hashlib.sha256(im.tobytes()).hexdigest()[:16])
for fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
    buf = io.BytesIO()
    im.save(buf, fmt)
    back = Image.open(io.BytesIO(buf.getvalue()))
    back.load()
    print(fmt, back.size, back.mode, hashlib.sha256(buf.getvalue()).hexdigest()[:16])
print("features", [f for f in ("jpg", "webp", "zlib", "libtiff", "freetype2") if features.check(f)])
