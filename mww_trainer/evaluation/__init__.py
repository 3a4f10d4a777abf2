"""Evaluation: detection as the device decides it, scores, cutoff sweeps and the cutoff rule,
clip metrics, the DET curve and the verdict."""
