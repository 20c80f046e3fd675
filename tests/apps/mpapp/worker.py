import decimal


def square(x):
    # decimal (a C extension in lib-dynload) imported in the workers too
    return int(decimal.Decimal(x) * decimal.Decimal(x))


def hello(word):
    print("child says", word, flush=True)
