"""Online scoring shared by the BentoML service, the canary analysis and the benchmarks."""
