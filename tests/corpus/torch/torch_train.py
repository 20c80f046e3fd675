"""torch (CPU): tensors, autograd, a few optimizer steps with a fixed seed; imports torch._ops,
whose module sets a made-up __file__."""
import torch

torch.manual_seed(0)
torch.set_num_threads(1)
x = torch.randn(64, 8)
y = (x @ torch.arange(8.0) + 1).unsqueeze(1)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for step in range(20):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
print("loss", round(loss.item(), 3))
print("matmul", round(float((x.T @ x).trace()), 3), "svd", round(float(torch.linalg.svdvals(x)[0]), 3))
print("torch.ops claims __file__", torch.ops.__file__)
