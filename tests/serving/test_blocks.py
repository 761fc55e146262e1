"""BlockFeeds: a lazy, read-only mapping of column views over a few blocks."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.serving._blocks import BlockFeeds, BlockLayout, same_columns

# Feed order interleaves the blocks on purpose.
LAYOUT = BlockLayout(("a", "city", "b"), ((("a", "b"), "<f8"), (("city",), "|O")))


def row(a: float, b: float, city: str) -> BlockFeeds:
    return BlockFeeds.row(LAYOUT, ((a, b), (city,)))


def test_a_row_makes_no_arrays_until_it_is_read() -> None:
    feeds = row(1.0, 2.0, "oslo")
    assert feeds.rows == 1
    assert list(feeds) == ["a", "city", "b"]
    assert len(feeds) == 3
    assert "city" in feeds
    assert "nope" not in feeds
    assert feeds._blocks is None  # nothing built by the questions above
    assert feeds._views is None
    assert feeds["b"].tolist() == [[2.0]]
    assert feeds["city"].tolist() == [["oslo"]]
    assert feeds["a"].dtype == np.float64
    assert feeds["city"].dtype == object


def test_rows_stack_into_one_batch_in_order() -> None:
    parts = [row(float(i), float(-i), f"c{i}") for i in range(5)]
    batch = BlockFeeds.concat(parts)
    assert batch is not None
    assert batch.rows == 5
    assert batch["a"].tolist() == [[0.0], [1.0], [2.0], [3.0], [4.0]]
    assert batch["b"].tolist() == [[-0.0], [-1.0], [-2.0], [-3.0], [-4.0]]
    assert batch["city"].ravel().tolist() == ["c0", "c1", "c2", "c3", "c4"]
    for name in batch:
        assert batch[name].flags["C_CONTIGUOUS"]  # what ONNX Runtime takes without a copy
        assert batch[name].shape == (5, 1)


def test_built_and_unbuilt_parts_join_alike() -> None:
    built = row(1.0, 2.0, "x")
    assert built.blocks  # made now
    many = BlockFeeds.concat([row(3.0, 4.0, "y"), row(5.0, 6.0, "z")])
    assert many is not None
    joined = BlockFeeds.concat([built, many, row(7.0, 8.0, "w")])
    assert joined is not None
    assert joined["a"].ravel().tolist() == [1.0, 3.0, 5.0, 7.0]
    assert joined["city"].ravel().tolist() == ["x", "y", "z", "w"]


def test_parts_of_another_layout_or_plain_dicts_are_not_joined_here() -> None:
    other = BlockLayout(("a", "city", "b"), ((("a", "b"), "<f8"), (("city",), "|O")))
    assert BlockFeeds.concat([row(1, 2, "x"), BlockFeeds.row(other, ((1, 2), ("y",)))]) is None
    assert BlockFeeds.concat([{"a": np.zeros((1, 1))}]) is None


def test_same_columns_compares_layouts_then_names() -> None:
    plain = {"a": np.zeros((1, 1)), "city": np.zeros((1, 1)), "b": np.zeros((1, 1))}
    assert same_columns(row(1, 2, "x"), row(3, 4, "y"))
    assert same_columns(row(1, 2, "x"), plain)
    assert not same_columns(row(1, 2, "x"), {"a": np.zeros((1, 1))})


def test_the_mapping_is_read_only() -> None:
    feeds = row(1.0, 2.0, "x")
    with pytest.raises(TypeError):
        feeds["a"] = np.zeros((1, 1))  # type: ignore[index]
    with pytest.raises(KeyError):
        feeds["missing"]
