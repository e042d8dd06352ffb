"""Times the two MLP training steps of compare.py and the elementwise chain with rgrad alone
(medians of 9), for quick A/B runs of two builds of the extension on one machine.

    python benches/quick_steps.py
"""

import timeit

import rgrad as torch

torch.manual_seed(0)


def mk(sizes, batch):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, sizes[0])
    y = torch.randint(0, sizes[-1], (batch,))

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


s1 = mk((784, 512, 512, 10), 256)
s2 = mk((784, 64, 64, 10), 32)
a = torch.randn(1 << 20)
b = torch.randn(1 << 20)
for name, f, n in [
    ("big", s1, 20),
    ("small", s2, 200),
    ("chain", lambda: ((a * b) + a).exp().sum(), 50),
]:
    ts = sorted(timeit.repeat(f, number=n, repeat=9))
    print(f"{name:6s} {ts[4] / n * 1e6:8.1f} us")
