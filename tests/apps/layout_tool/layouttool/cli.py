import sys


def main():
    import numpy as np
    print("layouttool", int(np.arange(10).sum()), sys.argv[1:])
