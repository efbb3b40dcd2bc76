"""Fashion-MNIST's real files, fetched as `fedbench data fashion-mnist` does (no route is
tried when verified files are there), read like MNIST's. Apart from tests/test_fashion_mnist.py,
whose routes run offline against fixtures with the real ones switched off."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from fedbench.data import fashion_mnist as fm


@pytest.mark.slow
def test_the_real_files_read_like_mnist() -> None:
    root = Path(os.environ.get("FEDBENCH_DATA_ROOT", Path(__file__).parent.parent / "resources"))
    fm.ensure_fashion_mnist(root)  # no route is tried when verified files are there
    train_x, train_y, test_x, test_y = fm.read_fashion_mnist(root)
    assert (train_x.shape, train_x.dtype) == ((60_000, 28, 28), np.uint8)
    assert (test_x.shape, test_x.dtype) == ((10_000, 28, 28), np.uint8)
    assert train_y.dtype == test_y.dtype == np.int64
    assert tuple(np.bincount(train_y)) == fm.TRAIN_LABEL_COUNTS
    assert tuple(np.bincount(test_y)) == fm.TEST_LABEL_COUNTS
    from torchvision.datasets.mnist import FashionMNIST  # the real one (no_network patches
    # torchvision.datasets.FashionMNIST)

    assert len(FashionMNIST(str(root), train=True, download=False)) == 60_000
