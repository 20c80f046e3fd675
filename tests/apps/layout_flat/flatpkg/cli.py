"""Installed editable from a flat layout: setuptools' __editable__ finder
hook finds it, outside sys.path."""
import sys


def main():
    import numpy as np
    from importlib.metadata import version
    print("flattool", version("flatpkg"), float(np.ones(4).sum()), sys.argv[1:])
