"""The examples a user runs from the README, run as subprocesses exactly that way."""

import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def run(script, *args, cwd):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_seed_autograd_prints_pytorchs_numbers(tmp_path):
    lines = run("seed_autograd.py", cwd=tmp_path).splitlines()
    assert lines[0] == "Gradient of x: 3.0"
    assert lines[1] == "Gradient of y: 8.0"
    assert re.fullmatch(r"Gradient of input_tensor: tensor\(\[\[-?\d+\.\d{4}\]\]\)", lines[2])
    assert re.fullmatch(r"Gradient of model weight: tensor\(\[\[-?\d+\.\d{4}\]\]\)", lines[3])
    assert re.fullmatch(r"Gradient of model bias: tensor\(\[-?\d+\.\d{4}\]\)", lines[4])
    # Example 2's input is 1.0, so the weight and bias gradients are equal.
    number = re.compile(r"-?\d+\.\d{4}")
    assert number.findall(lines[3]) == number.findall(lines[4])
    assert lines[5] == "Gradient of x: 94.0"
    assert lines[6] == "Updated value of w: 1.7999999523162842"


def test_seed_training_reaches_full_accuracy(tmp_path):
    out = run("seed_training.py", cwd=tmp_path)
    assert "Accuracy: 100.00%" in out
    losses = [float(m) for m in re.findall(r"Loss: (\d+\.\d+)", out)]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.05


@pytest.mark.skipif(
    not (importlib.util.find_spec("sklearn") and importlib.util.find_spec("tqdm")),
    reason="needs the examples extra: scikit-learn and tqdm",
)
def test_train_digits_reaches_95_percent_and_reloads(tmp_path):
    out = run("train_digits.py", "--out", str(tmp_path), cwd=tmp_path)
    acc = float(re.search(r"test accuracy (\d+\.\d+)%", out).group(1))
    assert acc >= 95.0, out
    assert "reloaded model gives the same predictions: True" in out
    assert (tmp_path / "digits_mlp.safetensors").stat().st_size > 0
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "digits_loss.png").read_bytes()[:4] == b"\x89PNG"
