"""multiprocessing makes sys.modules['__mp_main__'] an alias of __main__; spawn workers import
this file as __mp_main__; the parent alone imports numpy (under the __main__ guard)."""
import json
import multiprocessing as mp


def work(n):
    return len(json.dumps(list(range(n))))


if __name__ == "__main__":
    import sys

    import numpy

    print("alias", sys.modules.get("__mp_main__") is sys.modules["__main__"])
    with mp.get_context("spawn").Pool(2) as pool:
        sizes = pool.map(work, range(6))
    print("spawn", sizes, int(numpy.sum(sizes)))
