"""`python -m pipeline.cli`: the same as the `galaxy-contrastive` console script."""
import sys

from pipeline.cli import main

sys.exit(main())
