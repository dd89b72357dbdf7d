"""AnomalyGate: stops the run before upscaling and training when ExampleValidator found anomalies."""
