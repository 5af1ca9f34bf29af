"""Data: the transaction contract, the synthetic generator, and validated reads and writes."""
