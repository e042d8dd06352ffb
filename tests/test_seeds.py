"""The first seed document's autograd code (Example 1, Exercises 1 and 2), exactly as written
there with `import rgrad as torch` in place of `import torch`, must print what PyTorch prints.

The code is copied from the seed (one statement per line, otherwise unchanged) so the tests do
not depend on anything outside the repository.
"""

import contextlib
import io
import subprocess
import sys

import pytest

EXAMPLE_1 = """\
import rgrad as torch

# Create tensors
x = torch.tensor(2.0, requires_grad=True)
y = torch.tensor(3.0, requires_grad=True)

# Perform operations
z = x * y + y**2

# Compute gradients
z.backward()

# Print gradients
print(f"Gradient of x: {x.grad}")
print(f"Gradient of y: {y.grad}")
"""

EXERCISE_1 = """\
import rgrad as torch

# Create tensor
x = torch.tensor(3.0, requires_grad=True)

# Define polynomial function
y = 3 * x**3 + 2 * x**2 + x

# Compute gradient
y.backward()

# Print gradient
print(f"Gradient of x: {x.grad}")
"""

EXERCISE_2 = """\
import rgrad as torch

# Create tensor
w = torch.tensor(1.0, requires_grad=True)

# Define loss function
loss = (w - 5)**2

# Compute gradient
loss.backward()

# Perform gradient descent step
learning_rate = 0.1
with torch.no_grad():
    w -= learning_rate * w.grad

# Print updated value of w
print(f"Updated value of w: {w}")
"""

# What PyTorch prints for each program.
SEEDS = {
    "example_1": (EXAMPLE_1, ["Gradient of x: 3.0", "Gradient of y: 8.0"]),
    "exercise_1": (EXERCISE_1, ["Gradient of x: 94.0"]),
    "exercise_2": (EXERCISE_2, ["Updated value of w: 1.7999999523162842"]),
}


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_in_subprocess(name, tmp_path):
    """Run as a user would: a fresh interpreter, from a directory outside the repository."""
    code, expected = SEEDS[name]
    script = tmp_path / f"{name}.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == expected
    assert proc.stdout == "".join(line + "\n" for line in expected)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_in_process(name):
    """Same programs through exec, so a failure shows a Python traceback directly."""
    code, expected = SEEDS[name]
    out = io.StringIO()
    namespace = {"__name__": "__seed__"}
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"<{name}>", "exec"), namespace)
    assert out.getvalue().splitlines() == expected


def test_seed_state_after_exercise_2():
    """Exercise 2 updates w in place: still the same leaf, requiring grad, with its grad."""
    namespace = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(EXERCISE_2, namespace)
    w = namespace["w"]
    torch = namespace["torch"]
    assert w.is_leaf
    assert w.requires_grad
    assert w.grad_fn is None
    assert w.dtype == torch.float32
    assert w.grad.item() == -8.0
    assert w.item() == pytest.approx(1.8)
    assert repr(w) == "tensor(1.8000, requires_grad=True)"


def test_seed_values_after_example_1():
    namespace = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(EXAMPLE_1, namespace)
    z = namespace["z"]
    assert z.item() == 15.0
    assert type(z.grad_fn).__name__ == "AddBackward0"
    assert str(namespace["x"].grad) == "tensor(3.)"
    assert str(namespace["y"].grad) == "tensor(8.)"


def test_programs_are_the_seed_with_rgrad_import():
    """Guard against editing the programs: the seed code with `import torch` only replaced."""
    for code, _ in SEEDS.values():
        assert code.startswith("import rgrad as torch\n")
        assert "rgrad" not in code[len("import rgrad as torch") :]
