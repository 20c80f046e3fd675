__file__ = "impl.py"  # a module rewriting its own __file__ after import


def add(a, b):
    return a + b
