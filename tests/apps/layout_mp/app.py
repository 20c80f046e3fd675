"""multiprocessing (spawn: the workers see sys.modules['__mp_main__'] as
__main__) and joblib from the venv, with a module of the app's own."""
import multiprocessing as mp

import joblib
import numpy as np

import mphelp


def work(x):
    return int(np.square(x))


if __name__ == "__main__":
    with mp.get_context("spawn").Pool(2) as pool:
        print("pool", pool.map(work, range(5)))
    print("joblib", joblib.Parallel(n_jobs=2)(joblib.delayed(mphelp.cube)(i) for i in range(4)))
    print(mphelp.cube(3))
