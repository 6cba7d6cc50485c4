"""Chaos on Kubernetes: what an experiment may touch (``rules``, ``walk``), where it acts
(``scope``: one context, one kubeconfig, one namespace), the Chaos Mesh objects it leaves in
the ledger and how they are deleted (``objects``), and the activities that run inside
``chaos run`` (``mesh``, ``pods``, ``probes``: injections that verify themselves, probes
that follow a real pod lifecycle).

``rules``, ``walk`` and ``scope`` run in the orchestrator and never import chaoslib or
chaosk8s; ``objects`` imports the ``kubernetes`` client lazily (recovery only); ``mesh``,
``pods`` and ``probes`` run inside ``chaos run`` only.
"""
