def greet(args):
    return "helpers " + ",".join(args)
