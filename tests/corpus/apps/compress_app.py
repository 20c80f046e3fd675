"""zstandard, lz4, brotli: three compressors' native code, fixed inputs, checksummed outputs."""
import hashlib

import brotli
import lz4.frame
import zstandard

data = b"".join(b"line %d of the corpus app\n" % (i % 97) for i in range(20000))
z = zstandard.ZstdCompressor(level=9).compress(data)
print("zstd", len(z), hashlib.sha256(z).hexdigest()[:16], zstandard.ZstdDecompressor().decompress(z) == data)
dict_data = zstandard.train_dictionary(4096, [data[i:i + 500] for i in range(0, 100000, 500)])
print("zstd dict id", dict_data.dict_id() != 0)
l4 = lz4.frame.compress(data, compression_level=9)
print("lz4", len(l4), hashlib.sha256(l4).hexdigest()[:16], lz4.frame.decompress(l4) == data)
br = brotli.compress(data, quality=9)
print("brotli", len(br), hashlib.sha256(br).hexdigest()[:16], brotli.decompress(br) == data)
