"""Time-sequence prediction of sine waves, as pytorch/examples' time_sequence_prediction: two
nn.LSTMCell layers and a Linear head in float64, trained with optim.LBFGS (closure, line
search off as there), predicting 1000 steps past the data. It prints the train and test
losses per step and writes the predictions of each step as a PNG (when matplotlib is
installed) to --out (./outputs by default, which git ignores).

    pip install ".[examples]"      # matplotlib
    python examples/sine_lstm.py [--steps 15] [--out DIR]
"""

import argparse
import os

import numpy as np

import rgrad as torch
import rgrad.nn as nn
import rgrad.optim as optim


def make_data(n=100, length=1000, period=20, seed=2):
    """Sine waves with random phase shifts (the example's generate_sine_wave.py)."""
    rng = np.random.default_rng(seed)
    x = np.arange(length) + rng.integers(-4 * period, 4 * period, n).reshape(n, 1)
    return np.sin(x / period).astype("float64")


class Sequence(nn.Module):
    def __init__(self, hidden=51):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        n = input.size(0)
        h_t = torch.zeros(n, self.hidden, dtype=torch.double)
        c_t = torch.zeros(n, self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(n, self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(n, self.hidden, dtype=torch.double)
        output = None
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):  # feed the predictions back in
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15, help="LBFGS steps")
    parser.add_argument("--length", type=int, default=1000, help="samples per wave")
    parser.add_argument("--future", type=int, default=1000, help="steps predicted past the data")
    parser.add_argument("--out", default="outputs", help="where the plots go (default: ./outputs)")
    args = parser.parse_args()

    np.random.seed(0)
    torch.manual_seed(0)
    data = make_data(length=args.length)
    inp = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])
    seq = Sequence().double()
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    os.makedirs(args.out, exist_ok=True)
    for i in range(args.steps):
        print("STEP: ", i)

        def closure():
            optimizer.zero_grad()
            out = seq(inp)
            loss = criterion(out, target)
            print("loss:", loss.item())
            loss.backward()
            return loss

        optimizer.step(closure)
        with torch.no_grad():
            pred = seq(test_input, future=args.future)
            loss = criterion(pred[:, : -args.future], test_target)
            print("test loss:", loss.item())
            y = pred.detach().numpy()
        if plt is not None:
            plt.figure(figsize=(30, 10))
            plt.title("Predict future values for time sequences\n(dashed lines: predicted)")
            plt.xlabel("x")
            plt.ylabel("y")
            n = inp.size(1)
            for k, color in enumerate("rgb"):
                plt.plot(np.arange(n), y[k][:n], color, linewidth=2.0)
                plt.plot(np.arange(n, n + args.future), y[k][n:], color + ":", linewidth=2.0)
            path = os.path.join(args.out, f"sine_predict{i}.png")
            plt.savefig(path)
            plt.close()
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
