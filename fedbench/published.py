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

FEDPROX_PAPER_SOURCE = ("Li et al., Federated Optimization in Heterogeneous Networks, MLSys 2020, "
                        "section 5.2 (text; PROTOCOLS.md §2)")


@dataclass(frozen=True)
class PublishedClaim:
    """A published aggregate statement, e.g. an average improvement over several datasets."""

    protocols: tuple[str, ...]  # where fedbench can measure it (a subset of the paper's datasets)
    stragglers: float
    metric: str
    value: float
    source: str
    text: str


# The FedProx paper gives one number for its systems-heterogeneity experiments: "FedProx ...
# improves the absolute testing accuracy by 22% on average" over FedAvg at 90 % stragglers,
# across its five datasets (Synthetic, MNIST, FEMNIST, Sent140, Shakespeare). fedbench has two
# of the five families (MNIST and the Synthetic datasets): the comparison is indicative only.
FEDPROX_PAPER_CLAIM = PublishedClaim(
    protocols=("paper", "synthetic-iid", "synthetic-0-0", "synthetic-0.5-0.5", "synthetic-1-1"),
    stragglers=0.9,
    metric="test_accuracy",
    value=0.22,
    source=FEDPROX_PAPER_SOURCE,
    text="FedProx (μ>0) − FedAvg, absolute test accuracy at 90 % stragglers, average over the "
         "paper's five datasets: +22 %",
)

MCMAHAN_SOURCE = ("McMahan et al., Communication-Efficient Learning of Deep Networks from "
                  "Decentralized Data, AISTATS 2017, Table 2 (C = 0.1; PROTOCOLS.md §3)")
FLOWER_FEDAVG_SOURCE = ("Flower baselines/flwr_baselines/publications/fedavg_mnist (CNN, non-IID, "
                        "all 100 clients every round, lr 0.1, 1000 rounds; PROTOCOLS.md §3)")
# Target test accuracy of each model (McMahan et al. 2017, section 3).
MCMAHAN_TARGETS = {"2nn": 0.97, "cnn": 0.99}


@dataclass(frozen=True)
class PublishedRounds:
    """Rounds to reach the target accuracy for one (model, partition, E, B) setting."""

    model: str
    protocol: str  # mcmahan-iid | mcmahan-noniid
    local_epochs: int
    batch_size: int | None  # None: B = ∞ (full local batch)
    rounds: int
    source: str


def _table2(epochs: int, batch: int | None, iid: int, noniid: int) -> tuple[PublishedRounds, ...]:
    return (PublishedRounds("cnn", "mcmahan-iid", epochs, batch, iid, MCMAHAN_SOURCE),
            PublishedRounds("cnn", "mcmahan-noniid", epochs, batch, noniid, MCMAHAN_SOURCE))


# Table 2, CNN, C = 0.1 (IID / non-IID), as given in PROTOCOLS.md §3. The 2NN rows of the
# paper's Table 2 are not transcribed there, so none are given here.
MCMAHAN_TABLE2: tuple[PublishedRounds, ...] = (
    *_table2(5, None, 179, 1000),
    *_table2(1, 50, 65, 600),
    *_table2(1, 10, 34, 350),
    *_table2(5, 50, 29, 334),
    *_table2(5, 10, 20, 229),
    *_table2(20, 10, 18, 173),
)

# Flower's replication (first round at >= 0.99; CNN, non-IID). B=∞ E=20 later diverged.
FLOWER_FEDAVG_ROUNDS: tuple[PublishedRounds, ...] = tuple(
    PublishedRounds("cnn", "mcmahan-noniid", e, b, r, FLOWER_FEDAVG_SOURCE)
    for e, b, r in ((1, 10, 123), (5, 10, 104), (1, 50, 547), (5, 50, 305), (1, None, 741),
                    (5, None, 989), (20, None, 527))
)


def published_rounds(model: str, protocol: str, local_epochs: int, batch_size: int | None,
                     table: tuple[PublishedRounds, ...] = MCMAHAN_TABLE2) -> int | None:
    """Published rounds to target for one setting, or None when the source gives none."""
    for row in table:
        if (row.model, row.protocol, row.local_epochs, row.batch_size) == (
                model, protocol, local_epochs, batch_size):
            return row.rounds
    return None


PROTOCOL_TITLES = {
    "flower-baseline": "Flower Baselines, FedProx on MNIST",
    "paper": "Li et al. 2020 (FedProx paper), MNIST",
    "synthetic-iid": "Li et al. 2020, Synthetic IID",
    "synthetic-0-0": "Li et al. 2020, Synthetic(0,0)",
    "synthetic-0.5-0.5": "Li et al. 2020, Synthetic(0.5,0.5)",
    "synthetic-1-1": "Li et al. 2020, Synthetic(1,1)",
    "mcmahan-iid": "McMahan et al. 2017, MNIST IID",
    "mcmahan-noniid": "McMahan et al. 2017, MNIST pathological non-IID",
}

_PAPER_DIFFERENCES = (
    "FedProx paper protocol. Evaluation is federated, as in the paper's code: test accuracy "
    "is Σ correct / Σ n over every device's held-out 10 % split, and the training loss "
    "(Figure 1's metric, 'global_train_loss') is over every device's training data. Both are "
    "computed on the server from the global model after each round.",
    "Stragglers. Exactly round(10·sf) of the 10 selected devices straggle each round (fixed "
    "count, as in the paper's code) and train uniform 1…E−1 epochs; FedAvg drops them, FedProx "
    "keeps their partial work.",
    "Seeding. The paper seeds selection by the round number only; fedbench draws the partition, "
    "selection, stragglers and batch order from (seed, round, client), and runs several seeds.",
    "Published values. The paper publishes curves (Figures 1 and 7) and one number: +22 % "
    "average absolute test accuracy of FedProx over FedAvg at 90 % stragglers across its five "
    "datasets (MNIST, FEMNIST, Sent140, Shakespeare, Synthetic). fedbench has MNIST and the "
    "Synthetic datasets only, so the average here is over those and indicative only.",
    "Weight decay. The paper's local solver (PerturbedGradientDescent) has none: weight decay 0.",
)


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
    "paper": (
        "Data. All 70,000 MNIST images, each pixel standardised (x − mean)/(std + 0.001) with "
        "statistics over the whole set (float64 statistics, float32 data); 1000 devices, two "
        "digits each, 5 per digit then lognormal(0, 2) shares; per-device 90/10 split as in "
        "the paper's code (80/20 in its appendix text).",
        *_PAPER_DIFFERENCES,
    ),
    **{name: (
        "Synthetic(α, β) generated locally with the paper's recipe (PROTOCOLS.md §2), one "
        "dataset per seed (the paper has one fixed draw), 30 devices, per-device 90/10 split; "
        "multinomial logistic regression 60→10.",
        *_PAPER_DIFFERENCES[:3],
    ) for name in ("synthetic-iid", "synthetic-0-0", "synthetic-0.5-0.5", "synthetic-1-1")},
}


def published_value(protocol: str, algorithm: str, mu: float, stragglers: float,
                    metric: str = "test_accuracy") -> PublishedValue | None:
    """The published value for one cell, or None when the source gives none."""
    for value in PUBLISHED:
        if (value.protocol == protocol and value.algorithm == algorithm and value.metric == metric
                and abs(value.mu - mu) < 1e-9 and abs(value.stragglers - stragglers) < 1e-9):
            return value
    return None
