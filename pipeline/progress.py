"""Progress bars that suit a terminal and a log file alike (issue 7).

On a terminal a tqdm bar redraws in place up to ten times a second.  Written to a file or a pipe
(CI, ``dvc repro > log``) every redraw stays in the log as one more line, so there a bar redraws
at most every ``LOG_INTERVAL_S`` seconds, and the bars of inner loops (the steps of a training
epoch, which ends with a line of its own anyway) are not drawn at all.
"""
from __future__ import annotations

import sys
from typing import Any, Iterable

from tqdm import tqdm

#: Seconds between two redraws of a bar written to a log rather than a terminal.
LOG_INTERVAL_S = 60.0


def progress(iterable: Iterable | None = None, *, inner: bool = False, **kwargs: Any) -> tqdm:
    """A tqdm bar (``kwargs`` as tqdm's; on stderr unless ``file`` says otherwise).

    On a terminal it is tqdm's own.  Elsewhere it redraws at most every ``LOG_INTERVAL_S``
    seconds, and an ``inner`` bar (one of many short loops inside a longer one) not at all.
    """
    stream = kwargs.setdefault("file", sys.stderr)
    if not stream.isatty():
        # maxinterval too: tqdm's monitor thread otherwise forces a redraw every 10 s.
        kwargs.update(mininterval=LOG_INTERVAL_S, maxinterval=LOG_INTERVAL_S, disable=inner)
    return tqdm(iterable, **kwargs)


def write(message: str) -> None:
    """Print ``message`` (to stdout) as its own line, without breaking a bar on the terminal."""
    tqdm.write(message)
