"""The embedded testbed: a small, real ML platform (model registry, serving pods, pipeline
orchestrator) started on 127.0.0.1, with fault switches that make it fail on purpose."""
