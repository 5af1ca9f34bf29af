"""Monitoring: drift and quality of live traffic against the model's training snapshot."""
