"""dvc.yaml lists exactly the code each stage runs (issue 8): every module a stage imports,
transitively within pipeline/ and stages/, is one of its deps or lies in a folder among them, and
every code dependency it declares is one it imports.  The params half (each key a stage reads is
declared) needs the stages to run: tests/test_dvc_pipeline.py checks it on the tiny pipeline."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.dvc_stages import ROOT, covered, declared_stages, holds_code, imported_files, with_opt_in_analyses

with tempfile.TemporaryDirectory() as _tmp:
    STAGES = declared_stages(with_opt_in_analyses(ROOT, Path(_tmp)))


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_every_imported_module_is_a_dependency(stage):
    missing = sorted(f for f in imported_files(stage.module) if holds_code(f) and not covered(f, stage.deps))
    assert not missing, f"{stage.name} imports {missing} but dvc.yaml does not list them as deps"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_every_code_dependency_is_imported(stage):
    imported = imported_files(stage.module)
    code = [d for d in stage.deps if d.startswith(("pipeline", "stages")) and (ROOT / d).exists()]
    unused = [d for d in code if not any(covered(f, (d,)) for f in imported)]
    assert not unused, f"{stage.name} lists {unused} as deps but never imports them"


def test_the_stage_list_covers_every_stage_module():
    """A new stage module without a dvc.yaml stage (or a renamed one) shows up here."""
    modules = {s.module for s in STAGES}
    # seed_summary: a command run after DVC's experiment queue, over experiments, not a stage
    not_stages = {"stages.__init__", "stages.common", "stages.seed_summary"}
    files = {f"stages.{p.stem}" for p in (ROOT / "stages").glob("*.py")} - not_stages
    assert files == modules
