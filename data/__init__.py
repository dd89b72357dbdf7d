"""Fashion-MNIST acquisition, IDX parsing, split assignment and tf.Example encoding."""
