"""Published reference values and known protocol differences, as data with their sources.

Kept apart from the code that uses them so that every number shown as
"published" in a report can be traced to one line here and, from there, to
PROTOCOLS.md and the original source. Values read off a figure are ranges
marked approximate; they are a sanity reference, not a regression target
(the regression bands live in ``configs/expected/``).
"""

from __future__ import annotations

from dataclasses import dataclass

FLOWER_FEDPROX_SOURCE = ("Flower repository, baselines/fedprox, README figure "
                         "_static/FedProx_mnist.png (PROTOCOLS.md §1)")
READ_OFF = "≈, read off a figure"


@dataclass(frozen=True)
class PublishedValue:
    """One published number (or range) for one cell of a protocol's grid."""

    protocol: str
    algorithm: str
    mu: float
    stragglers: float
    metric: str
    low: float
    high: float
    round: int
    source: str
    note: str = READ_OFF

    def text(self, digits: int = 2) -> str:
        """"≈0.86" or "≈0.78–0.85": the approximate sign is part of the value."""
        if self.low == self.high:
            return f"≈{self.low:.{digits}f}"
        return f"≈{self.low:.{digits}f}–{self.high:.{digits}f}"


def _flower(algorithm: str, mu: float, stragglers: float, low: float,
            high: float) -> PublishedValue:
    return PublishedValue("flower-baseline", algorithm, mu, stragglers, "test_accuracy", low, high,
                          100, FLOWER_FEDPROX_SOURCE)


# The Flower figure has no table; PROTOCOLS.md §1 gives the round-100 readings.
# At 50 % stragglers nothing was read off, so there is no entry.
PUBLISHED: tuple[PublishedValue, ...] = (
    _flower("fedavg", 0.0, 0.0, 0.78, 0.85),
    _flower("fedprox", 0.0, 0.0, 0.78, 0.85),
    _flower("fedprox", 2.0, 0.0, 0.78, 0.85),
    _flower("fedavg", 0.0, 0.9, 0.60, 0.65),
    _flower("fedprox", 0.0, 0.9, 0.75, 0.83),
    _flower("fedprox", 2.0, 0.9, 0.86, 0.86),
)

PROTOCOL_TITLES = {
    "flower-baseline": "Flower Baselines, FedProx on MNIST",
}

# Paragraphs for the report's "Known differences" section, per protocol.
KNOWN_DIFFERENCES: dict[str, tuple[str, ...]] = {
    "flower-baseline": (
        "Seeding. Flower's baseline runs are mostly unseeded (partition draw, straggler "
        "matrix), so each published curve is a single sample. fedbench seeds every random "
        "choice and runs several seeds per cell; figures show the mean over seeds with a "
        "±1 standard deviation band, and the published values should be read against that "
        "band, not against the mean alone.",
        "Test loss scale. Flower's reported test loss is the sum of per-batch mean losses "
        "divided by the test set size, i.e. roughly the mean loss divided by the test batch "
        "size. fedbench reports the true mean cross-entropy over the 10,000 test images, so "
        "its loss values are larger by about that factor; the published loss levels "
        "(≈0.05–0.10, ≈0.15 for FedAvg at 90\u00a0% stragglers) are not directly comparable.",
        "Paired draws. In fedbench the partition, the clients sampled each round and the "
        "straggler draws are functions of (seed, round, client) only, so FedAvg, FedProx μ=0 "
        "and FedProx μ>0 with the same seed see exactly the same partition, clients and "
        "stragglers, and differences are compared pairwise by seed. In Flower's runs each "
        "algorithm gets its own independent draws.",
        "Published values. Flower publishes a figure, not a table: the reference accuracies "
        "are read off the plot at round 100 and are approximate (≈), given as ranges where "
        "the curves are noisy. No value was read off at 50\u00a0% stragglers.",
    ),
}


def published_value(protocol: str, algorithm: str, mu: float, stragglers: float,
                    metric: str = "test_accuracy") -> PublishedValue | None:
    """The published value for one cell, or None when the source gives none."""
    for value in PUBLISHED:
        if (value.protocol == protocol and value.algorithm == algorithm and value.metric == metric
                and abs(value.mu - mu) < 1e-9 and abs(value.stragglers - stragglers) < 1e-9):
            return value
    return None
