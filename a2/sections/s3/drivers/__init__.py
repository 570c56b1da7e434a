"""§3's drivers: the probes of the unit checks and the threshold run, in the student's process.
What a driver may do is said in ``a2.sections``."""

#: The heavy modules §3's student processes import (the notebook, and these drivers through
#: transformers' lazy classes): the run's warm template imports them ahead while it waits
#: (grader/sandbox/fork_server.py), when the submission holds a §3 notebook.
PRELOADED = (
    "datasets",
    "transformers",
    "transformers.modeling_utils",
    "transformers.models.auto.modeling_auto",
    "transformers.models.auto.tokenization_auto",
    "transformers.models.roberta.modeling_roberta",
    "transformers.models.roberta.tokenization_roberta",
    "a2.sections.s3.drivers.probes",
    "a2.sections.s3.drivers.threshold",
)
