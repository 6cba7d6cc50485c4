"""The load stage: Locust run out of process, judged from exact HDR histograms.

Orchestrator side (never imports locust or gevent):
- ``stage.STAGE``: ``check`` (locustfile exists, parses, names its user classes;
  criteria make sense) and ``run`` (``runner.run_load``).
- ``spec.LoadStep``: the step model (``arrival_rate`` for the open model,
  ``workers`` for remote workers, ``env`` for the locust processes).
- ``command``: the locust command line/env and what its exit code means.
- ``stream`` / ``interval``: the live JSON-lines interval stream of the plugin.
- ``tally``: merged histograms and metric values; ``judge``: live decisive breaches,
  sustained windows, phases and recovery time; ``resources``: target CPU.
- ``histogram``: HDR record/encode/merge (hdrh only); ``inspection``: locustfile AST.
- ``scenario_env``: target URLs and tokens for the scenarios (env, then manifest).

Inside locust processes only: ``plugin`` (passed with ``-f user.py,plugin.py``) and
``arrival`` (``ArrivalRateUser``, the open model).
"""
