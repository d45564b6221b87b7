"""`make bench`: the operator's provider-API cost, speed to Ready and footprint, measured side by side with a
naive per-instance polling reconciler against the provider simulators (see docs/benchmarks.md)."""
