"""A loopback mirror of the survey servers for tests and benchmarks (issue 3).

``server.Mirror`` is a real HTTP server on 127.0.0.1 with range requests, latency, a request
log and fault injection; ``surveys.SurveyMirror`` fills it with small files in the real formats
(Hart16 CSV, volunteers_5 CSV, SkyServer SQL and cutouts, Legacy Survey cutouts, Zenodo zips),
generated here: catalogues by ``catalogues.py``, images drawn by ``drawings.py``.
"""
