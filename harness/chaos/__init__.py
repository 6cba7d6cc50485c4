"""The chaos stage: Chaos Toolkit experiments against the serving pods, under load, judged by
phase, always rolled back.

Orchestrator side (never imports chaoslib): :mod:`.stage` (``STAGE``), :mod:`.runner`
(``run_chaos``), :mod:`.experiment` (load + check as data), :mod:`.journal`
(``judge_journal``), :mod:`.phases` (event stream -> phase marks), :mod:`.plan` (dry run),
:mod:`.allowlist` (blast radius), :mod:`.ledger` (fault ledger), :mod:`.recovery`
(``recover_all``, used by ``harness recover`` and at the start of every run).

Inside ``chaos run``: :mod:`.control` (streams progress as JSON lines, see :mod:`.stream`)
and :mod:`.driver` (the local testbed's fault driver).
"""
