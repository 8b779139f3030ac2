"""Stage `report`: the static HTML report of the run under report/ (issue 12).

Open report/index.html from disk: no server, no network; pipeline/report/ says what it shows.
"""
from __future__ import annotations

from pipeline import paths
from pipeline.params import Params
from pipeline.report.site import build
from stages.common import stage_main


def run(params: Params) -> None:
    build(params)
    print(f"report of {len(params.surveys)} surveys written to {paths.REPORT / 'index.html'}")


def main(argv: list[str] | None = None) -> None:
    stage_main(__doc__, run, (), argv)


if __name__ == "__main__":
    main()
