"""Noise-based feature imbalance, x̂ ~ Gau(σ·i/(N−1)): an IID split whose clients see
their features through Gaussian noise that grows with the client index.

NIID-Bench (Li et al., ICDE 2022, section III-B) splits the samples as in the IID
partition and gives client i of N noise of standard deviation σ·i/(N − 1), so client 0 is
clean and the last client has the full σ. The noise is added to the preprocessed features
(``fedbench.data.federated``), drawn once per (seed, client) and kept, and the server's
test set is every client's noisy copy of the test images, as NIID-Bench evaluates it.
"""

from __future__ import annotations

from pydantic import Field

from fedbench.data.partitions.base import PartitionDocs, Partitioner, PartitionParameters
from fedbench.data.partitions.iid import shuffled_shares


class NoiseParams(PartitionParameters):
    sigma: float = Field(0.1, ge=0, description="σ: the last client's noise level")


def noise_std(params: NoiseParams, client: int, num_clients: int) -> float:
    """σ·i/(N−1): 0 for client 0, σ for the last client."""
    return params.sigma * client / (num_clients - 1) if num_clients > 1 else 0.0


PARTITIONER = Partitioner(
    name="noise",
    parameters=NoiseParams,
    split=lambda labels, clients, params, seed: shuffled_shares(len(labels), clients, seed),
    noise_std=noise_std,
    docs=PartitionDocs(title="noise-based feature imbalance",
                       source="Li et al., NIID-Bench, ICDE 2022, section III-B "
                       "(x̂ ~ Gau(σ·i/N))",
                       short=lambda params: f"x~Gau({params.sigma:g})"),
)
