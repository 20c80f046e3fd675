NAME = "gamma (app folder)"
