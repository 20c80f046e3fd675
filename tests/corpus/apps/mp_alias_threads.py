"""The __mp_main__ alias with no child process: the app imports multiprocessing (as joblib and
scikit-learn do) and a site-packages package (msgpack), and works in a thread pool."""
from multiprocessing.pool import ThreadPool

import msgpack

with ThreadPool(2) as pool:
    out = pool.map(lambda n: msgpack.unpackb(msgpack.packb({"n": n, "sq": n * n})), range(5))
print("threads", out)
