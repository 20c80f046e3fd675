"""Run as `python -m mpkg`: its __main__ imports numpy."""
