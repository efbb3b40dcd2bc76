"""Averaging replies exactly as Flower does, without Flower's decode/encode round trip.

``average_arrays`` and ``average_metrics`` reproduce ``flwr.serverapp.strategy``'s
``aggregate_arrayrecords`` and ``aggregate_metricrecords`` bit for bit (the same
operations, in the same order, in the same dtypes) but read the arrays as views of
the replies' ``.npy`` bytes (``fedbench.fl.wire.array_view``) instead of through
``np.load``; tests/test_strategy.py pins both against Flower's functions.
"""

from __future__ import annotations

import numpy as np
from flwr.app import ArrayRecord, MetricRecord

from fedbench.fl import wire


def average_arrays(records: list[ArrayRecord], factors: list[float]) -> dict[str, np.ndarray]:
    """``sum_i records[i] * factors[i]`` per key, as Flower's ``aggregate_arrayrecords`` sums.

    The same operations in the same order on the same values: ``acc = a_0 * w_0`` and
    ``acc += a_i * w_i``, each product and sum rounded to the arrays' dtype (a Python
    float factor does not widen a float32 array).
    """
    acc: dict[str, np.ndarray] = {}
    for record, factor in zip(records, factors, strict=True):
        for key, value in record.items():
            if key not in acc:
                acc[key] = wire.array_view(value) * factor
            else:
                acc[key] += wire.array_view(value) * factor
    return acc


def average_metrics(
    metrics: list[MetricRecord], factors: list[float], weight_key: str
) -> MetricRecord:
    """Flower's ``aggregate_metricrecords`` (``sum_i m_i * w_i`` per key but the weight's).

    The same Python-float arithmetic in the same order, summed in a plain dict and
    type-checked once at the end instead of on every step.
    """
    acc: dict = {}
    for record, factor in zip(metrics, factors, strict=True):
        for key, value in record.items():
            if key == weight_key:
                continue
            if key not in acc:
                acc[key] = (
                    [v * factor for v in value] if isinstance(value, list) else value * factor
                )
            elif isinstance(value, list):
                acc[key] = [c + v * factor for c, v in zip(acc[key], value, strict=True)]
            else:
                acc[key] = acc[key] + value * factor
    return MetricRecord(acc)
