"""joblib with the loky backend: worker processes started through sys.executable (the dist's launcher)."""
import math

from joblib import Parallel, delayed


def work(n):
    return sum(math.isqrt(i) for i in range(n * 1000))


if __name__ == "__main__":
    out = Parallel(n_jobs=2, backend="loky")(delayed(work)(n) for n in range(1, 9))
    print("loky", out)
    out = Parallel(n_jobs=2, backend="threading")(delayed(work)(n) for n in range(1, 5))
    print("threads", out)
