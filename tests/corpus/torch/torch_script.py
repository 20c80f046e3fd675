"""TorchScript: a scripted function and module compiled and run, saved and loaded in memory."""
import io

import torch


@torch.jit.script
def poly(x: torch.Tensor) -> torch.Tensor:
    return x * x + 2 * x + 1


m = torch.jit.script(torch.nn.Linear(3, 2))
buf = io.BytesIO()
torch.jit.save(m, buf)
buf.seek(0)
loaded = torch.jit.load(buf)
torch.manual_seed(1)
inp = torch.randn(4, 3)
print("poly", poly(torch.arange(4.0)).tolist())
print("same", bool(torch.equal(loaded(inp), m(inp))))
