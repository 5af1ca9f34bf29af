"""Training: time-based splits, the model, its evaluation and the validation gate."""
