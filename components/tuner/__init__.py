"""The Tuner: TFX's Tuner component whose executor also writes the trials table and plot."""
