"""xxhash: xxh32, xxh64, xxh3 over fixed inputs, streaming and one-shot."""
import xxhash

data = bytes(range(256)) * 100
print("xxh32", xxhash.xxh32(data, seed=1).hexdigest())
print("xxh64", xxhash.xxh64_hexdigest(data))
print("xxh3_64", xxhash.xxh3_64_hexdigest(data))
h = xxhash.xxh3_128()
for i in range(0, len(data), 1000):
    h.update(data[i:i + 1000])
print("xxh3_128 stream", h.hexdigest(), h.hexdigest() == xxhash.xxh3_128_hexdigest(data))
