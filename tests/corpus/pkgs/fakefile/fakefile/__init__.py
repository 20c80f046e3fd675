"""A tiny package for the corpus: its _ops module lies about __file__, as torch._ops does."""
VERSION = "1.0"
