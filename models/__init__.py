"""Model families, the search space, and the TFX Tuner and Trainer entry points."""
