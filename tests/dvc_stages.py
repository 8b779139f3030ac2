"""What dvc.yaml declares per stage, and what each stage's code imports (for tests/test_dvc_deps.py).

Imports are found statically, over every ``import`` anywhere in a module (lazy ones inside
functions too) and the parent packages Python imports on the way.  The survey sources are loaded
lazily by name (``pipeline.surveys.SOURCES``), so a module that calls the factory imports them all.
"""
from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

from dvc.dependency.param import ParamsDependency
import yaml
from dvc.repo import Repo

from pipeline.surveys import SOURCES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "stages")
#: Names whose import means the lazily loaded sources run too.
SOURCE_FACTORIES = {"get_source", "source_for"}


@dataclass(frozen=True)
class DeclaredStage:
    name: str  # e.g. "train@sim_gz2"
    module: str  # e.g. "stages.train"
    deps: tuple[str, ...]  # paths, relative to the repository root
    params: tuple[str, ...]  # dotted params.yaml keys


#: Analyses whose survey list is empty by default (they train extra models): switched on for
#: the repository's last default survey when resolving, so their stages are checked too.
OPT_IN = ("ablation", "label_efficiency")


def with_opt_in_analyses(root: Path, into: Path) -> Path:
    """A DVC project in ``into`` with ``root``'s dvc.yaml and params.yaml, the opt-in analyses on."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    for block in OPT_IN:
        params[block]["surveys"] = params["surveys"][-1:]
    Repo.init(str(into), no_scm=True).close()
    (into / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copy(root / "dvc.yaml", into / "dvc.yaml")
    return into


def declared_stages(root: Path = ROOT) -> list[DeclaredStage]:
    """Every stage instance of dvc.yaml, resolved (foreach and matrix expanded)."""
    with Repo(str(root)) as repo:
        return [DeclaredStage(stage.name, stage.cmd.split()[2],
                              tuple(d.def_path for d in stage.deps if not isinstance(d, ParamsDependency)),
                              tuple(k for d in stage.deps if isinstance(d, ParamsDependency) for k in d.params))
                for stage in repo.index.stages]


def module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _direct_imports(module: str) -> set[str]:
    path = module_file(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
            if base == "pipeline.surveys" and SOURCE_FACTORIES & {alias.name for alias in node.names}:
                found |= {spec.split(":")[0] for spec in SOURCES.values()}
    return {m for m in found if m.split(".")[0] in PACKAGES and module_file(m) is not None}


def imported_files(module: str) -> set[str]:
    """Files of ``pipeline/`` and ``stages/`` that running ``module`` imports, transitively."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        parts = current.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages
        todo += _direct_imports(current)
    return {str(module_file(m).relative_to(ROOT)) for m in seen}


def holds_code(file: str) -> bool:
    """False for a module that is only a docstring (a package's ``__init__.py``): it cannot change
    what a stage computes."""
    body = ast.parse((ROOT / file).read_text()).body
    return not (len(body) <= 1 and all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                                       for n in body))


def covered(path: str, declared: tuple[str, ...]) -> bool:
    """``path`` is a declared dependency or lies inside a declared folder."""
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in declared)


def _under(key: str, block: str) -> bool:
    return key == block or key.startswith(block + ".")


def undeclared_reads(reads: list[str], stage: DeclaredStage) -> list[str]:
    """Keys the stage read that none of its declared params covers."""
    return [r for r in reads if not any(_under(r, d) for d in stage.params)]


def unread_params(reads: list[str], stage: DeclaredStage) -> list[str]:
    """Declared params of which the stage read nothing."""
    return [d for d in stage.params if not any(_under(r, d) or _under(d, r) for r in reads)]
