"""IdxExampleGen: a TFX component that ingests the Fashion-MNIST IDX files into train / eval / test."""
