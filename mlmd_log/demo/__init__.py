"""``mlmd-log demo``: a TFX-shaped pipeline recorded in a store, and the questions it answers.

:mod:`.run` runs it (embedded, on a local tansu broker, or on a given Kafka),
:mod:`.pipeline` records the pipeline, :mod:`.report` answers the questions
and draws the lineage.
"""

from mlmd_log.demo.run import mermaid_path_for, run_demo

__all__ = ["mermaid_path_for", "run_demo"]
