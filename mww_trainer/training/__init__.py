"""Training: where it runs, the fit loop, checkpoints, hard-negative mining, validation and
TensorBoard."""
