import json
import pathlib

import numpy as np
import pytest

DATA = pathlib.Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def ops_cases():
    return json.loads((DATA / "ops.json").read_text())["cases"]


@pytest.fixture(scope="session")
def ops_arrays():
    with np.load(DATA / "ops.npz") as f:
        return {k: f[k] for k in f.files}
