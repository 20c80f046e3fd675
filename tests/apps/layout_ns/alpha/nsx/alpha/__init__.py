NAME = "alpha (site-packages)"
