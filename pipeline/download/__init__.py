"""Fetching survey files politely and robustly (issue 3; DESIGN.md sect. 2, failure modes).

- ``settings``: the params of one connection kind (rate limit, retries, timeouts) and of a fetch.
- ``ratelimit``: a per-host token bucket shared by every thread of a client.
- ``retry``: exponential backoff with jitter; which failures are worth another try.
- ``http``: a requests client with the project's User-Agent, the rate limit and the retries;
  bodies streamed under a size cap, every HTTP stack error a one-line reason.
- ``watchdog``: a deadline per request attempt (trickling servers) and Ctrl-C for requests in flight.
- ``validate``: content checks (an HTML page is never an image; images decode at the right size).
- ``fetch``: the concurrent file fetcher: skip complete files, temporary name then rename,
  one manifest row per file, progress bar.
- ``manifest``: the failure summary and the params fraction that fails the stage.
- ``ranged_zip``: members of a remote zip read with HTTP range requests.
- ``skyserver``: SDSS SkyServer SQL (through astroquery) and image cutouts.
- ``tables``: remote CSV(.gz) catalogues streamed to disk and read in chunks.
- ``safepath``: file names from remote data or user input kept inside their folder.
"""
