"""The wire format between ServerApp and ClientApp: what a client is asked to do.

Everything a ClientApp needs travels in the message's ConfigRecord, so the
ClientApp is stateless and behaves the same under the in-process Grid, Flower's
Simulation Engine, or a real deployment. One dataclass, two directions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from flwr.app import ConfigRecord


@dataclass(frozen=True)
class TrainInstruction:
    # which data: the dataset identity and the client's partition
    data_root: str
    protocol: str
    num_clients: int
    seed: int
    partition_id: int
    # what to do with it
    model: str
    epochs: int
    straggler: bool
    drop_straggler: bool  # FedAvg: a straggler's update is discarded, so it need not train
    lr: float
    weight_decay: float
    batch_size: int  # 0: the client's whole data set is one batch (B = ∞)
    proximal_mu: float
    server_round: int
    device: str = "cpu"
    threads: int = 1
    fail_prob: float = 0.0  # test-only fault injection

    def to_config(self) -> ConfigRecord:
        return ConfigRecord({k.replace("_", "-"): v for k, v in asdict(self).items()})

    @classmethod
    def from_config(cls, record: ConfigRecord) -> TrainInstruction:
        values = {}
        for f in fields(cls):
            key = f.name.replace("_", "-")
            if key in record:
                values[f.name] = record[key]
        return cls(**values)


# Keys of the MetricRecord a ClientApp replies with.
NUM_EXAMPLES = "num-examples"
PARTITION = "partition-id"
STRAGGLER = "straggler"
DROPPED = "dropped"
EPOCHS = "epochs"
TRAIN_LOSS = "train-loss"
