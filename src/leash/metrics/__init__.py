"""Pure metric functions over counts (numpy only, no I/O): pass@k, support, entropy, tests.

Every formula is in its function's docstring and is tested against an independent
computation (exact fractions, brute force, scipy, the papers' tables).
"""

from leash.metrics.entropy import answer_entropy
from leash.metrics.passk import (
    avg_at_n,
    crossover_k,
    delta_se,
    maj_at_k,
    mean_with_band,
    pass_at_k,
    se_gap,
)
from leash.metrics.significance import benjamini_hochberg, fisher_exact
from leash.metrics.support import (
    REGIONS,
    Regions,
    epsilon,
    epsilon_exact,
    region_probabilities,
    support_regions,
)

__all__ = [
    "REGIONS",
    "Regions",
    "answer_entropy",
    "avg_at_n",
    "benjamini_hochberg",
    "crossover_k",
    "delta_se",
    "epsilon",
    "epsilon_exact",
    "fisher_exact",
    "maj_at_k",
    "mean_with_band",
    "pass_at_k",
    "region_probabilities",
    "se_gap",
    "support_regions",
]
