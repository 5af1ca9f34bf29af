"""The monitoring job's entry point (`python -m monitoring`), as run by the CronJob."""
