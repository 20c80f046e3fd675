"""Installed editable from a flat layout: setuptools' __editable__ finder
hook finds it, outside sys.path (and `mapped`, in a folder of another
name)."""
import sys


def main():
    import numpy as np
    from importlib.metadata import version

    import mapped
    print("flattool", version("flatpkg"), float(np.ones(4).sum()), mapped.sub.twice(21),
          sys.argv[1:])
