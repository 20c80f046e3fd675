"""torch.multiprocessing with spawn: workers import this file as __mp_main__, and torch."""
import torch
import torch.multiprocessing as mp


def work(n):
    torch.manual_seed(n)
    return round(float(torch.randn(100).sum()), 4)


if __name__ == "__main__":
    with mp.get_context("spawn").Pool(2) as pool:
        print("spawn", pool.map(work, range(4)))
