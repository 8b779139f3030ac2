"""Library behind the DVC stages: reproduces Wei et al. (2022), PASP 134, 114508."""
