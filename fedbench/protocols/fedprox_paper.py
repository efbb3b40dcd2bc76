"""Li et al., Federated Optimization in Heterogeneous Networks (MLSys 2020): the FedProx
paper's MNIST protocol (PROTOCOLS.md §2).

All 70,000 MNIST images standardised per pixel, the power law over 1000 devices, a
per-device 90/10 split, a fixed count of stragglers per round and federated evaluation.
``DOCS_CLAIM`` and ``DOCS_PAPER_DIFFERENCES`` (report text, see ``protocols.base``) are
shared with the paper's Synthetic(α, β) protocols (``fedbench.protocols.synthetic``).
"""

from __future__ import annotations

import numpy as np

from fedbench.data import mnist, partitioners
from fedbench.protocols.base import Preprocess, Protocol, ProtocolDocs, PublishedClaim

SYNTHETIC_NAMES = ("synthetic-iid", "synthetic-0-0", "synthetic-0.5-0.5", "synthetic-1-1")

# The FedProx paper gives one number for its systems-heterogeneity experiments: "FedProx ...
# improves the absolute testing accuracy by 22% on average" over FedAvg at 90 % stragglers,
# across its five datasets (Synthetic, MNIST, FEMNIST, Sent140, Shakespeare). fedbench has two
# of the five families (MNIST and the Synthetic datasets): the comparison is indicative only.
DOCS_CLAIM = PublishedClaim(
    protocols=("paper", *SYNTHETIC_NAMES),
    stragglers=0.9,
    metric="test_accuracy",
    value=0.22,
    source="Li et al., Federated Optimization in Heterogeneous Networks, MLSys 2020, "
    "section 5.2 (text; PROTOCOLS.md §2)",
    text="FedProx (μ>0) − FedAvg, absolute test accuracy at 90 % stragglers, average over the "
    "paper's five datasets: +22 %",
)

DOCS_PAPER_DIFFERENCES = (
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


def fit_standardise(pool: np.ndarray) -> Preprocess:
    """The FedProx paper's per-pixel standardisation, statistics over the whole ``pool``.

    ``generate_niid.py``: ``mu = mean(data, 0)``, ``sigma = std(data, 0)`` over all
    70,000 images (raw 0..255 values), then ``(x - mu) / (sigma + 0.001)``.
    Statistics are computed in float64 and applied in float32.
    """
    flat = pool.reshape(pool.shape[0], -1)
    mean = flat.mean(axis=0, dtype=np.float64)
    squares = np.zeros(flat.shape[1], np.float64)
    for lo in range(0, flat.shape[0], 10_000):  # two-pass variance, in chunks (memory)
        squares += ((flat[lo : lo + 10_000] - mean) ** 2).sum(axis=0)
    std = np.sqrt(squares / flat.shape[0])
    mean32, scale32 = mean.astype(np.float32), (std + 0.001).astype(np.float32)

    def standardise(images: np.ndarray) -> np.ndarray:
        rows = images.reshape(images.shape[0], -1).astype(np.float32)
        return (rows - mean32) / scale32

    standardise.mean = mean32  # type: ignore[attr-defined]
    standardise.scale = scale32  # type: ignore[attr-defined]
    return standardise


_ALL_LABEL_COUNTS = tuple(a + b for a, b in zip(mnist.TRAIN_LABEL_COUNTS, mnist.TEST_LABEL_COUNTS,
                                                 strict=True))


def _power_law(labels, clients, seed):
    return partitioners.power_law(labels, clients, seed)


PROTOCOLS = (
    Protocol(
        name="paper",
        data="mnist-all",
        input_dim=784,
        preprocess=None,
        fit_preprocess=fit_standardise,
        split=_power_law,
        val_fraction=0.1,
        straggler_rule="fixed-count",
        evaluation="federated",
        clients_multiple_of=10,  # the power law: one group of clients per MNIST label
        max_clients=partitioners.power_law_max_clients(_ALL_LABEL_COUNTS),
        max_clients_reason=f"the power law gives each device 5 images of each of its 2 "
        f"labels, and the 70,000 MNIST images have {min(_ALL_LABEL_COUNTS):,} of the rarest "
        "label",
        docs=ProtocolDocs(
            title="Li et al. 2020 (FedProx paper), MNIST",
            source="Li et al., Federated Optimization in Heterogeneous Networks (MLSys 2020), "
            "section 5 and litian96/FedProx: PROTOCOLS.md section 2",
            description="all 70,000 MNIST images standardised per pixel, power law over "
            "devices, per-device 90/10 train/test split, exactly round(K·sf) stragglers per "
            "round, federated evaluation (Σ correct / Σ n over every device's test split; "
            "training loss over every device's training data)",
            claims=(DOCS_CLAIM,),
            known_differences=(
                "Data. All 70,000 MNIST images, each pixel standardised (x − mean)/(std + "
                "0.001) with statistics over the whole set (float64 statistics, float32 data); "
                "1000 devices, two digits each, 5 per digit then lognormal(0, 2) shares; "
                "per-device 90/10 split as in the paper's code (80/20 in its appendix text).",
                *DOCS_PAPER_DIFFERENCES,
            ),
        ),
    ),
)
