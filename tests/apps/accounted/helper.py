def greet(n):
    return f"helper {n}"
