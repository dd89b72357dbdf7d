"""Two runs with the same seed and data, in different roots, write identical examples."""

from __future__ import annotations

from reliability.runs import DATA_HALF, assert_same_examples, live_examples, split_records


def test_same_seed_and_data_give_identical_splits_and_example_bytes(clean_runs):
    first, second = clean_runs
    assert first.returncode == 0 and second.returncode == 0
    examples_a, examples_b = live_examples(first.metadata_path), live_examples(second.metadata_path)
    assert {"IdxExampleGen", DATA_HALF} <= examples_a.keys()
    # Every Examples producer (IdxExampleGen, and ImageUpscaler once it is in the pipeline) is compared.
    assert examples_a.keys() == examples_b.keys()
    for producer in examples_a:
        assert examples_a[producer] != examples_b[producer]  # two separate artifacts, in different roots
        assert_same_examples(
            producer, split_records(examples_a[producer]), split_records(examples_b[producer])
        )
