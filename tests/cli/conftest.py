"""A tiny sim_sdss model trained by the real pipeline, shared by the CLI tests."""
from __future__ import annotations

import pytest

from tests.repo_copy import RepoCopy, tiny

SURVEY = "sim_sdss"  # the fastest simulated survey (128 px)


@pytest.fixture(scope="session")
def trained_sim_sdss(tmp_path_factory) -> RepoCopy:
    """A repository copy after ``dvc repro embed@sim_sdss evaluate@sim_sdss`` on a tiny configuration.

    Built once per test session; tests read its outputs and must not write inside it.
    """
    repo = RepoCopy(tmp_path_factory.mktemp("cli") / "repo")
    repo.write_params(tiny(repo.params(), [SURVEY]))
    repo.commit()
    repo.dvc("repro", f"embed@{SURVEY}", f"evaluate@{SURVEY}")
    return repo
