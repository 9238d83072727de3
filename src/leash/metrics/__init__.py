"""Pure metric functions over counts (numpy only, no I/O): pass@k, support, entropy, tests,
reliability (pass^k, G-Pass@k, cover@τ), the luck baseline and who gains.

Every formula is in its function's docstring and is tested against an independent
computation (exact fractions, brute force, scipy, the papers' tables).
"""

from leash.metrics.entropy import answer_entropy
from leash.metrics.gains import average_ranks, spearman
from leash.metrics.luck import guess_rate, luck_at_k, within_luck
from leash.metrics.passk import (
    avg_at_n,
    crossover_k,
    delta_se,
    falling_ratio,
    maj_at_k,
    mean_with_band,
    pass_at_k,
    se_gap,
)
from leash.metrics.reliability import (
    TAU_GRID,
    cover_at_tau,
    g_pass_at_k,
    mg_pass_at_k,
    pass_hat_k,
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
    "TAU_GRID",
    "Regions",
    "answer_entropy",
    "average_ranks",
    "avg_at_n",
    "benjamini_hochberg",
    "cover_at_tau",
    "crossover_k",
    "delta_se",
    "epsilon",
    "epsilon_exact",
    "falling_ratio",
    "fisher_exact",
    "g_pass_at_k",
    "guess_rate",
    "luck_at_k",
    "maj_at_k",
    "mean_with_band",
    "mg_pass_at_k",
    "pass_at_k",
    "pass_hat_k",
    "region_probabilities",
    "se_gap",
    "spearman",
    "support_regions",
    "within_luck",
]
