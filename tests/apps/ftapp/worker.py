import decimal
import sys

import ftext


def task(n):
    # a stdlib extension (_decimal) and the app's own (ftext) in the worker
    with decimal.localcontext() as ctx:
        ctx.prec = 30
        third = decimal.Decimal(n) / decimal.Decimal(3)
    return n, str(third), ftext.collatz(1000 * (n + 1)), sys._is_gil_enabled()
