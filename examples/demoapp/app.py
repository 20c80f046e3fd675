"""pyfarm's demo app: numpy and opencv (vendored native libraries), certifi's
data through importlib.resources, a multiprocessing pool (spawn), a
subprocess of sys.executable and an external program (xz)."""
import hashlib
import importlib.resources
import multiprocessing as mp
import subprocess
import sys

import certifi
import cv2
import numpy as np


def blur_sum(seed):
    rng = np.random.default_rng(seed)
    img = (rng.random((64, 64)) * 255).astype(np.uint8)
    return int(cv2.GaussianBlur(img, (5, 5), 0).sum())


def main():
    print("numpy", np.__version__, "opencv", cv2.__version__)
    with mp.get_context("spawn").Pool(2) as pool:
        print("pool (spawn):", pool.map(blur_sum, range(4)))
    child = subprocess.run([sys.executable, "-c", "import sys; print(sys.version.split()[0])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    print("subprocess of sys.executable: python", child)
    packed = subprocess.run(["xz", "-c"], input=b"pyfarm" * 1000, capture_output=True, check=True).stdout
    print("xz packed 6000 bytes into", len(packed))
    pem = importlib.resources.files("certifi").joinpath("cacert.pem").read_bytes()
    print("certifi bundle", hashlib.sha256(pem).hexdigest()[:16], certifi.__version__)
    print("args", sys.argv[1:])


if __name__ == "__main__":
    main()
