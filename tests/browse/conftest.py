from pathlib import Path

import pytest

from tests.browse.runs import write_pair


@pytest.fixture(scope="package")
def pair(tmp_path_factory) -> list[Path]:
    """The base and tuned runs, made once; tests that label work on a copy (copy_pair)."""
    return write_pair(tmp_path_factory.mktemp("serve-runs"))
