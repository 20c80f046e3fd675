"""torch's first trap without torch: importing multiprocessing makes sys.modules['__mp_main__'] an
alias of __main__. A spawn pool's workers import this file as __mp_main__ and msgpack; the parent
alone imports xxhash (under the __main__ guard), which must not be dropped."""
import multiprocessing as mp

import msgpack


def work(n):
    return len(msgpack.packb(list(range(n * 10))))


if __name__ == "__main__":
    import sys

    import xxhash

    print("alias", sys.modules.get("__mp_main__") is sys.modules["__main__"])
    with mp.get_context("spawn").Pool(2) as pool:
        sizes = pool.map(work, range(8))
    print("spawn", sizes, xxhash.xxh64_hexdigest(bytes(sizes)))
