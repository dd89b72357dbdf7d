"""ServingSmokeCheck: loads the pushed model in a fresh process and calls every signature."""
