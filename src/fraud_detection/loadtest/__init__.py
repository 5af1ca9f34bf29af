"""Load generation against a running scoring server: latency bursts and bounded concurrent
load, for the demo, the load tests and the benchmarks. A client of serving, not part of it."""
