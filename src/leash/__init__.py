"""leash: measure whether post-training moved a language model's reasoning boundary.

The stages are sub-packages named after the pipeline (tasks, sampling, grading,
scoring, metrics, compare, report, lab); `leash.store` is the run directory they share.
Importing `leash` stays light: heavy libraries load inside the backend that needs them.
"""

__version__ = "0.1.0"

from leash.errors import LeashError

__all__ = ["LeashError", "__version__"]
