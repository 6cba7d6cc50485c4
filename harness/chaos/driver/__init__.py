"""A Chaos Toolkit extension for the local testbed: faults on the processes the testbed
manifest lists (``TESTBED_MANIFEST``), and nothing else.

Function signatures mirror chaostoolkit-kubernetes (``chaosk8s.pod.actions.terminate_pods``)
and its Chaos Mesh actions (``add_latency``, ``stress_cpu``), so the local experiments in
``chaos/`` and the Kubernetes ones in ``chaos/k8s/`` read alike. Every fault is written to the
fault ledger (fsynced) before it is injected and removed from it once its revert is verified.

Modules: :mod:`.pods` (terminate, freeze/resume), :mod:`.switches` (serving latency,
registry DB loss), :mod:`.stress` (CPU), :mod:`.disk` (ballast), :mod:`.probes` (steady state).
This package runs inside ``chaos run``; the orchestrator never imports it.
"""
