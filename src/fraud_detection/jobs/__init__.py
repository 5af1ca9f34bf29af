"""The application layer: one module per workflow, over the stages below it.

`train` (the training pipeline: here, compiled, or on KFP), `serve`, `canary`, `monitor`,
`retrain` and `demo` (all of them in turn). A job takes the `Settings`, tells its caller what is
happening through one `report` callback (`events`), and returns a result object. The adapters
(the CLI, the monitoring CronJob's entry point) parse their input, call a job and present what
it reports; they hold no workflow of their own.
"""
