"""The examples a user runs from the README, run as subprocesses exactly that way."""

import importlib.util
import os
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


@pytest.mark.skipif(
    not (importlib.util.find_spec("sklearn") and importlib.util.find_spec("tqdm")),
    reason="needs the examples extra: scikit-learn and tqdm",
)
def test_cnn_digits_reaches_97_percent_and_saves_a_torch_checkpoint(tmp_path):
    out = run("cnn_digits.py", "--out", str(tmp_path), cwd=tmp_path)
    acc = float(re.search(r"test accuracy (\d+\.\d+)%", out).group(1))
    assert acc > 97.0, out
    assert (tmp_path / "cnn_digits.pt").read_bytes()[:4] == b"PK\x03\x04"
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "cnn_digits_loss.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(
    not (importlib.util.find_spec("sklearn") and importlib.util.find_spec("tqdm")),
    reason="needs the examples extra: scikit-learn and tqdm",
)
def test_transfer_learning_fine_tunes_a_reloaded_checkpoint(tmp_path):
    out = run("transfer_learning.py", "--out", str(tmp_path), cwd=tmp_path)
    pre = float(re.search(r"pretrained on 0-4: test accuracy (\d+\.\d+)%", out).group(1))
    tuned = float(re.search(r"fine-tuned on 5-9: test accuracy (\d+\.\d+)%", out).group(1))
    assert pre > 97.0 and tuned > 90.0, out
    assert "frozen layers unchanged: True" in out
    assert (tmp_path / "pretrained_digits_0to4.pt").read_bytes()[:4] == b"PK\x03\x04"


# ---- first run as a new user (issue 11 item 15) --------------------------------------------

ROOT = EXAMPLES.parent


def readme_python_blocks():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def run_quiet_env(**overrides):
    """The environment of a headless machine: no XDG_RUNTIME_DIR; with VK_LOADER_DEBUG set,
    the Vulkan loader reports on stderr as soon as anything starts it."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env.update(overrides)
    return env


def test_readme_has_python_blocks():
    assert len(readme_python_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(readme_python_blocks())))
def test_readme_python_block_runs_as_written(index, tmp_path):
    block = readme_python_blocks()[index]
    out = subprocess.run(
        [sys.executable, "-c", block],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=run_quiet_env(),
    )
    assert out.returncode == 0, f"README block {index}:\n{block}\n{out.stderr[-3000:]}"
    assert out.stderr == "", out.stderr[-3000:]
    # A `print(...)  # text` line documents its output: the block prints exactly that.
    documented = re.findall(r"^print\(.*\)\s+#\s+(.*)$", block, flags=re.M)
    if documented and "loss" not in block:
        assert out.stdout.splitlines() == documented


def test_cpu_programs_never_start_the_vulkan_loader(tmp_path):
    env = run_quiet_env(VK_LOADER_DEBUG="all")
    code = "import rgrad\nx = rgrad.ones(3, requires_grad=True)\n(x * 2).sum().backward()\n"
    code += "print(rgrad.cuda.is_available(), x.grad.tolist())\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr[-3000:]
    assert out.stdout.strip() == "False [2.0, 2.0, 2.0]"


@pytest.mark.skipif(not importlib.util.find_spec("sklearn"), reason="needs scikit-learn")
def test_train_on_gpu_with_device_cpu_never_starts_the_vulkan_loader(tmp_path):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_on_gpu.py"), "--device", "cpu"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env=run_quiet_env(VK_LOADER_DEBUG="all"),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stderr == "", out.stderr[-3000:]
    assert out.stdout.startswith("device: cpu")


def test_wgpu_probe_on_a_headless_machine_prints_nothing():
    """Opening the adapter without XDG_RUNTIME_DIR: Mesa finds a private runtime dir (no
    'XDG_RUNTIME_DIR is invalid' lines), and the variable is left unset afterwards."""
    code = "import os, rgrad\nrgrad.wgpu.is_available()\nprint(os.environ.get('XDG_RUNTIME_DIR'))\n"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=run_quiet_env(),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "XDG_RUNTIME_DIR" not in out.stderr, out.stderr[-3000:]
    assert out.stdout.strip() == "None"


@pytest.mark.skipif(
    not (importlib.util.find_spec("sklearn") and importlib.util.find_spec("tqdm")),
    reason="needs the examples extra: scikit-learn and tqdm",
)
def test_train_digits_bar_advances_every_batch_and_writes_to_outputs(tmp_path):
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_digits.py"), "--epochs", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    counts = [(int(n), int(total)) for n, total in re.findall(r"(\d+)/(\d+) \[", out.stderr)]
    total = counts[0][1]
    assert total > 10
    # Every batch shows up, up to the last, in each epoch (the old bar stayed at 0/43).
    assert {n for n, _ in counts} == set(range(total + 1))
    outputs = tmp_path / "outputs"
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert all(p.startswith("outputs/") for p in written), written
    assert (outputs / "digits_mlp.safetensors").exists()
    assert str(outputs / "digits_mlp.safetensors") in out.stdout


# Short runs of the recurrent examples (their defaults train for minutes).
QUICK_ARGS = {
    "char_lstm.py": ["--steps", "3", "--sample", "20"],
    "sine_lstm.py": ["--steps", "1", "--length", "60", "--future", "10"],
    "tiny_gpt.py": ["--steps", "2", "--layers", "1", "--batch", "4", "--sample", "10"],
    "dcgan_digits.py": ["--epochs", "1", "--limit", "128"],
    "vae_digits.py": ["--epochs", "1"],
    "reinforce_cartpole.py": ["--episodes", "2"],
    "actor_critic_cartpole.py": ["--episodes", "2"],
    "gaussian_policy.py": ["--iterations", "1", "--envs", "2", "--n-steps", "100"],
}
# The examples that need the `rl` extra (gymnasium).
RL_EXAMPLES = {"reinforce_cartpole.py", "actor_critic_cartpole.py", "gaussian_policy.py"}


@pytest.mark.skipif(not importlib.util.find_spec("tqdm"), reason="needs tqdm")
def test_char_lstm_loss_falls_and_samples_text(tmp_path):
    out = run("char_lstm.py", "--steps", "40", "--sample", "80", cwd=tmp_path)
    first, last = map(float, re.search(r"loss fell from (\d+\.\d+) to (\d+\.\d+)", out).groups())
    assert last < first - 0.3, out
    text = out.split("sampled text:\n", 1)[1]
    assert text.startswith("def ") and len(text.rstrip("\n")) >= 84
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "outputs" / "char_lstm_loss.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(not importlib.util.find_spec("tqdm"), reason="needs tqdm")
def test_tiny_gpt_beats_the_unigram_baseline_and_samples_text(tmp_path):
    args = ["--steps", "60", "--layers", "2", "--d-model", "64", "--batch", "16"]
    out = run("tiny_gpt.py", *args, "--eval-every", "30", "--sample", "40", cwd=tmp_path)
    pattern = r"validation loss (\d+\.\d+) against the unigram baseline (\d+\.\d+)"
    val, baseline = map(float, re.search(pattern, out).groups())
    assert val < baseline - 0.2, out
    assert len(re.findall(r"^step +\d+ +train \S+ +validation \S+$", out, re.M)) == 2
    text = out.split("sampled text:\n", 1)[1]
    assert text.startswith("def ") and len(text.rstrip("\n")) >= 44
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "outputs" / "tiny_gpt_loss.png").read_bytes()[:4] == b"\x89PNG"


def test_sine_lstm_lbfgs_lowers_the_loss_and_plots(tmp_path):
    out = run("sine_lstm.py", "--steps", "2", "--length", "80", "--future", "20", cwd=tmp_path)
    losses = [float(v) for v in re.findall(r"^loss: (\S+)", out, re.M)]
    assert len(losses) > 5 and losses[-1] < 0.5 * losses[0], out
    assert len(re.findall(r"^test loss: ", out, re.M)) == 2
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "outputs" / "sine_predict1.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "script",
    sorted(p.name for p in EXAMPLES.glob("*.py")),
)
def test_examples_write_only_under_outputs(script, tmp_path):
    """Run from a fresh directory, an example leaves nothing outside ./outputs (which
    .gitignore lists), so a clone stays clean."""
    if script.startswith("train_") and not importlib.util.find_spec("sklearn"):
        pytest.skip("needs scikit-learn")
    if script in ("char_lstm.py", "tiny_gpt.py") and not importlib.util.find_spec("tqdm"):
        pytest.skip("needs tqdm")
    if script.endswith("_digits.py") and not importlib.util.find_spec("sklearn"):
        pytest.skip("needs scikit-learn")
    if script in RL_EXAMPLES:
        pytest.importorskip("gymnasium", reason="needs the rl extra: gymnasium")
    args = ["--epochs", "1"] if script == "train_digits.py" else []
    if script == "train_on_gpu.py":
        args = ["--device", "cpu"]
    if script in QUICK_ARGS:
        args = QUICK_ARGS[script]
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    stray = [
        p.relative_to(tmp_path).as_posix()
        for p in tmp_path.rglob("*")
        if p.is_file() and not p.relative_to(tmp_path).as_posix().startswith("outputs/")
    ]
    assert stray == []
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "/outputs/" in ignored or "outputs/" in ignored


# ---- module 6: generative models and reinforcement learning --------------------------------

FLOAT = r"(-?\d+\.\d+)"
needs_examples_extra = pytest.mark.skipif(
    not (importlib.util.find_spec("sklearn") and importlib.util.find_spec("tqdm")),
    reason="needs the examples extra: scikit-learn and tqdm",
)


def assert_png(path):
    if importlib.util.find_spec("matplotlib"):
        assert path.read_bytes()[:4] == b"\x89PNG", path


@needs_examples_extra
def test_dcgan_digits_prints_both_losses_and_writes_a_grid(tmp_path):
    out = run("dcgan_digits.py", "--epochs", "2", "--limit", "256", cwd=tmp_path)
    rows = re.findall(rf"^epoch +(\d+) +loss_D {FLOAT} +loss_G {FLOAT}$", out, re.M)
    assert [int(r[0]) for r in rows] == [1, 2], out
    for _, d, g in rows:
        # Finite, and the discriminator does better than chance (2 ln 2 = 1.386 nats) from
        # the first epoch: it learns, and its gradients reach it.
        assert 0.0 < float(d) < 1.386 and 0.0 < float(g) < 20.0, out
    assert_png(tmp_path / "outputs" / "dcgan_digits.png")
    assert_png(tmp_path / "outputs" / "dcgan_digits_loss.png")


@needs_examples_extra
def test_vae_digits_loss_falls_and_writes_pictures(tmp_path):
    out = run("vae_digits.py", "--epochs", "3", cwd=tmp_path)
    rows = re.findall(rf"^epoch +\d+ +train loss {FLOAT} +test loss {FLOAT}$", out, re.M)
    train, test = zip(*[(float(a), float(b)) for a, b in rows])
    assert len(rows) == 3 and list(train) == sorted(train, reverse=True), out
    # Below the 64 ln 2 = 44.4 nats of predicting every pixel at 0.5, plus the KL term.
    assert test[-1] < test[0] and test[-1] < 40.0, out
    for name in ("vae_reconstructions.png", "vae_samples.png", "vae_digits_loss.png"):
        assert_png(tmp_path / "outputs" / name)


def rl_rows(out):
    pattern = rf"^Episode (\d+)\tLast reward: {FLOAT}\tAverage reward: {FLOAT}$"
    return [(int(i), float(r), float(a)) for i, r, a in re.findall(pattern, out, re.M)]


@pytest.mark.parametrize("script", ["reinforce_cartpole.py", "actor_critic_cartpole.py"])
def test_cartpole_examples_print_the_running_reward(script, tmp_path):
    pytest.importorskip("gymnasium", reason="needs the rl extra: gymnasium")
    pytest.importorskip("tqdm")
    out = run(script, "--episodes", "12", "--log-interval", "1", "--seed", "1", cwd=tmp_path)
    rows = rl_rows(out)
    assert [r[0] for r in rows] == list(range(1, 13)), out
    running = 10.0  # the running reward is the examples' exponential average, from 10
    for _, reward, average in rows:
        assert 8.0 <= reward <= 500.0 and reward == int(reward), out
        running = 0.05 * reward + 0.95 * running
        assert average == pytest.approx(running, abs=0.006), out
    assert re.search(rf"^12 episodes in {FLOAT} min; running reward {FLOAT}$", out, re.M), out
    assert_png(tmp_path / "outputs" / script.replace(".py", ".png"))


def test_gaussian_policy_prints_average_returns(tmp_path):
    pytest.importorskip("gymnasium", reason="needs the rl extra: gymnasium")
    pytest.importorskip("tqdm")
    args = ["--iterations", "2", "--envs", "2", "--n-steps", "50"]
    out = run("gaussian_policy.py", *args, cwd=tmp_path)
    rows = [float(v) for v in re.findall(rf"^iteration +\d+ +average return +{FLOAT}$", out, re.M)]
    # Pendulum's returns over 200 steps lie in [-16.3 * 200, 0].
    assert len(rows) == 1 and -3300.0 < rows[0] < 0.0, out
    assert re.search(r"^4 episodes in .* min; average return ", out, re.M), out
    assert_png(tmp_path / "outputs" / "gaussian_policy.png")
