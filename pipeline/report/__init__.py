"""The static HTML report of a pipeline run (issue 12): ``report/index.html`` and a page per survey.

Everything the pages show is read from the stages' outputs (metrics, predictions, training
curves, prepared images, embeddings, the analyses' figures) and written beside the pages: PNGs
and relative links only, every style inline, so the folder opens from disk with no server and
no network.  :func:`pipeline.report.site.build` writes it.
"""
