"""The FedProx paper's Synthetic(α, β) datasets as protocols (PROTOCOLS.md §2).

Generated per seed by ``fedbench.data.synthetic`` (nothing to download): 30 devices,
60 features, 10 classes, a per-device 90/10 split, a fixed count of stragglers per round
and federated evaluation, as in the paper's MNIST protocol.
"""

from __future__ import annotations

from fedbench.protocols.base import Protocol, ProtocolDocs
from fedbench.protocols.fedprox_paper import DOCS_CLAIM, DOCS_PAPER_DIFFERENCES, SYNTHETIC_NAMES

MAX_DEVICES = 1000  # the paper has 30


def _synthetic(name: str, alpha: float, beta: float, iid: bool) -> Protocol:
    label = "IID" if iid else f"({alpha:g}, {beta:g})"
    return Protocol(
        name=name,
        data="synthetic",
        input_dim=60,
        preprocess=None,
        fit_preprocess=None,
        split=None,
        val_fraction=0.1,
        straggler_rule="fixed-count",
        evaluation="federated",
        synthetic=(alpha, beta, iid),
        max_clients=MAX_DEVICES,
        max_clients_reason="Synthetic(α, β) is generated in memory, int(lognormal(4, 2)) + 50 "
        "samples of 60 features per device (about 450 on average): bounded to keep memory sane",
        docs=ProtocolDocs(
            title="Li et al. 2020, Synthetic" + (" IID" if iid else f"({alpha:g},{beta:g})"),
            source="Li et al. (MLSys 2020), Synthetic datasets, "
            "data/synthetic_*/generate_synthetic.py: PROTOCOLS.md section 2",
            description=f"Synthetic{label} generated per seed, 60 features, 10 classes, "
            "per-device 90/10 split, exactly round(K·sf) stragglers per round, federated "
            "evaluation",
            claims=(DOCS_CLAIM,),
            known_differences=(
                "Synthetic(α, β) generated locally with the paper's recipe (PROTOCOLS.md §2), "
                "one dataset per seed (the paper has one fixed draw), 30 devices, per-device "
                "90/10 split; multinomial logistic regression 60→10.",
                *DOCS_PAPER_DIFFERENCES[:3],
            ),
        ),
    )


PROTOCOLS = tuple(
    _synthetic(name, alpha, beta, iid)
    for name, (alpha, beta, iid) in zip(
        SYNTHETIC_NAMES,
        ((0.0, 0.0, True), (0.0, 0.0, False), (0.5, 0.5, False), (1.0, 1.0, False)),
        strict=True,
    )
)
