"""Features: batch aggregates for Feast, feature repo operations, request-time features."""
