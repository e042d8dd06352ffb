"""Developer and CI sessions. `nox` runs the default ones: rust, tests, cross, lint.

    nox                  # rust (fmt, clippy, cargo test) + tests (build, pytest) + cross + lint
    nox -s cross         # the op table, optimizers and training on wgpu against the CPU
    nox -s tests -- -k matmul          # arguments after -- go to pytest
    nox -s bench [-- --quick --torch]  # criterion + benches/compare.py (not run by default)

The Rust extension is built once per nox run, as a release wheel, by `maturin build` into
target/nox-wheels, and installed into each session that needs it (tests, lint's stub check,
bench). All cargo invocations share one target directory (CARGO_TARGET_DIR, by default
./target), and the wheel is built against the base interpreter rather than a session's venv so
that a later nox run with nothing changed finds everything up to date.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import nox
import nox.command

# Any Python the package supports (pyproject: >=3.9); 3.11 first, as CI runs it.
SUPPORTED_PYTHONS = ["3.11", "3.12", "3.13", "3.10", "3.9"]


def _pick_python() -> str:
    """RGRAD_NOX_PYTHON, else the first supported interpreter on PATH (else 3.11, which nox
    then reports missing)."""
    chosen = os.environ.get("RGRAD_NOX_PYTHON")
    if chosen:
        return chosen
    found = [v for v in SUPPORTED_PYTHONS if shutil.which(f"python{v}")]
    return found[0] if found else SUPPORTED_PYTHONS[0]


PYTHON = _pick_python()
ROOT = Path(__file__).resolve().parent
TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")).resolve()
WHEEL_DIR = TARGET_DIR / "nox-wheels"
RUFF = "ruff==0.17.6"
LINT_PATHS = ["python", "tests", "benches", "examples", "tools", "noxfile.py"]

nox.needs_version = ">=2024.4.15"
nox.options.sessions = ["rust", "tests", "cross", "lint"]
# Mesa's software Vulkan driver (Debian's mesa-vulkan-drivers): the adapter `cross` uses on a
# machine without a GPU.
LLVMPIPE_ICD = Path("/usr/share/vulkan/icd.d/lvp_icd.x86_64.json")
nox.options.reuse_venv = "yes"  # no effect on CI's fresh clone; saves time locally
nox.options.error_on_missing_interpreters = True  # no interpreter at all must fail, not skip
if hasattr(nox.options, "download_python"):
    nox.options.download_python = "never"  # only package registries are reachable

# Every cargo and maturin call, in every session, builds into the same directory.
os.environ["CARGO_TARGET_DIR"] = str(TARGET_DIR)

PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
MATURIN = PYPROJECT["build-system"]["requires"]  # e.g. ["maturin>=1.7,<2"]
TEST_DEPS = PYPROJECT["project"].get("optional-dependencies", {}).get("test") or [
    "pytest",
    "hypothesis",
]

_built: dict[str, Path] = {}  # interpreter -> wheel built during this nox run


def _base_python(session: nox.Session) -> str:
    """The real interpreter behind the session's venv (the same for every session).

    maturin hands it to PyO3's build script as PYO3_PYTHON; keeping that value identical
    across sessions and runs lets cargo reuse the compiled pyo3 crates instead of rebuilding
    them for each venv.
    """
    out = session.run(
        "python",
        "-c",
        "import os, sys; print(os.path.realpath(getattr(sys, '_base_executable', sys.executable)))",
        silent=True,
    )
    return str(out).strip().splitlines()[-1]


def build_wheel(session: nox.Session) -> Path:
    """Builds the release wheel of rgrad once per nox run (cargo makes rebuilds incremental)."""
    interpreter = _base_python(session)
    if interpreter in _built and _built[interpreter].exists():
        session.log(f"reusing {_built[interpreter].name} built earlier in this run")
        return _built[interpreter]
    session.install(*MATURIN)
    WHEEL_DIR.mkdir(parents=True, exist_ok=True)
    for old in WHEEL_DIR.glob("*.whl"):
        old.unlink()
    start = time.perf_counter()
    # Release profile: the tests run the binary users get (and gemm/rayon kernels in a debug
    # build would make the matmul and property tests slow); the bench session needs it anyway,
    # so one build serves tests, lint and bench.
    session.run(
        "maturin",
        "build",
        "--release",
        "--interpreter",
        interpreter,
        "--out",
        str(WHEEL_DIR),
    )
    session.log(f"maturin build took {time.perf_counter() - start:.0f} s")
    wheels = sorted(WHEEL_DIR.glob("rgrad-*.whl"))
    if len(wheels) != 1:
        session.error(f"expected one wheel in {WHEEL_DIR}, found {[w.name for w in wheels]}")
    _built[interpreter] = wheels[0]
    return wheels[0]


def install_rgrad(session: nox.Session) -> None:
    """Installs the freshly built wheel, with its dependencies (numpy), into the venv."""
    wheel = build_wheel(session)
    session.install(str(wheel))  # dependencies; a no-op when already there
    # Same version number every build: force pip to replace the extension itself.
    session.install("--force-reinstall", "--no-deps", str(wheel))


def run_each(session: nox.Session, *commands: list[str]) -> list[str]:
    """Runs every command even when an earlier one fails, so that one CI run shows every
    problem; returns the commands that failed."""
    failed = []
    for cmd in commands:
        start = time.perf_counter()
        try:
            session.run(*cmd, external=True)
        except nox.command.CommandFailed:
            failed.append(" ".join(cmd))
        session.log(f"{' '.join(cmd[:2])} took {time.perf_counter() - start:.0f} s")
    return failed


def fail_if(session: nox.Session, failed: list[str]) -> None:
    if failed:
        session.warn("failed: " + "; ".join(failed))
        raise nox.command.CommandFailed("failed: " + "; ".join(failed))


@nox.session(python=False)
def rust(session: nox.Session) -> None:
    """cargo fmt --check, clippy -D warnings, and the core's unit tests."""
    failed = run_each(
        session,
        ["cargo", "fmt", "--all", "--check"],
        ["cargo", "clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
        ["cargo", "test", "-p", "rgrad-core"],
    )
    fail_if(session, failed)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Builds and installs the wheel, then runs pytest on tests/ (posargs go to pytest)."""
    session.install(*TEST_DEPS)  # pyproject's `test` extra: pytest, hypothesis
    # The `examples` and `rl` extras, so tests/test_examples.py runs the digits and the
    # reinforcement-learning examples as users do (their tests skip without them).
    extras = PYPROJECT["project"]["optional-dependencies"]
    session.install(*extras["examples"], *extras["rl"])
    install_rgrad(session)
    start = time.perf_counter()
    # `import rgrad` resolves to the installed wheel: the source package lives in python/,
    # which is not on sys.path.
    # The wgpu tests are the `cross` session's.
    session.run("pytest", "tests", "-m", "not wgpu", *session.posargs)
    session.log(f"pytest took {time.perf_counter() - start:.0f} s")


@nox.session(python=PYTHON)
def cross(session: nox.Session) -> None:
    """The wgpu backend against the CPU: every reference op case forward and backward,
    optimizers, and an MLP trained on both (tests/test_wgpu.py). Uses the machine's GPU, or
    Mesa's llvmpipe when its ICD file is installed and no Vulkan driver is chosen already;
    fails (rather than skips) when no adapter can be opened."""
    session.install(*TEST_DEPS)
    # scikit-learn for examples/train_on_gpu.py, which the session runs on the device.
    session.install(*PYPROJECT["project"]["optional-dependencies"]["examples"])
    install_rgrad(session)
    env = {"RGRAD_REQUIRE_WGPU": "1"}
    if "VK_ICD_FILENAMES" not in os.environ and LLVMPIPE_ICD.exists():
        env["VK_ICD_FILENAMES"] = str(LLVMPIPE_ICD)
    # Mesa's window-system code warns without a runtime dir; compute needs none.
    env.setdefault("XDG_RUNTIME_DIR", os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    session.run(
        "python", "-c", "import rgrad; print('wgpu adapter:', rgrad.wgpu.adapter_name())", env=env
    )
    start = time.perf_counter()
    session.run("pytest", "tests", "-m", "wgpu", *session.posargs, env=env)
    session.log(f"pytest (wgpu) took {time.perf_counter() - start:.0f} s")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and the stub check against the built module."""
    session.install(RUFF)
    paths = [p for p in LINT_PATHS if (ROOT / p).exists()]
    failed = run_each(session, ["ruff", "check", *paths], ["ruff", "format", "--check", *paths])
    install_rgrad(session)
    failed += run_each(session, ["python", str(ROOT / "tools" / "check_stubs.py")])
    fail_if(session, failed)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """criterion benches, then benches/compare.py (posargs: --quick, --json PATH, --torch).

    `--torch` installs PyTorch from PyPI into the session so the comparison has its column
    (a large download); without it PyTorch is compared only if it is already importable.
    """
    args = list(session.posargs)
    with_torch = "--torch" in args
    args = [a for a in args if a != "--torch"]
    # `--bench '*'`: only the criterion targets, so criterion flags don't reach the lib's
    # libtest harness.
    quick = ["--quick"] if "--quick" in args else []
    session.run(
        "cargo", "bench", "-p", "rgrad-benches", "--bench", "*", "--", *quick, external=True
    )
    install_rgrad(session)
    if with_torch:
        session.install("torch")
    session.run("python", str(ROOT / "benches" / "compare.py"), *args)
