"""What an algorithm is, and the Flower strategy base every algorithm's strategy builds on.

An algorithm module (``fedbench/algorithms/<name>.py``) defines ``ALGORITHM``, an
``Algorithm``: its name, its hyperparameters, whether it drops stragglers, and its
strategy, a subclass of one of Flower's strategies (``flwr.serverapp.strategy``)
mixed with ``ReproducibleRounds``. Everything else (config validation, the
Snakemake schema and wildcards, labels, the benchmarks) reads the registry.

``ReproducibleRounds`` changes in Flower's strategies only what the protocols and
determinism demand:

- clients are sampled per round as a function of (seed, round) by
  ``fedbench.fl.sampling``, and the server names each message's partition, so
  every backend and every algorithm of one seed trains the same clients;
- replies are sorted by partition before averaging (float sums depend on order);
- an algorithm that drops stragglers discards their updates (a round with nothing
  left keeps the global model); the others aggregate their partial work;
- federated evaluation is off: the protocol evaluates on the server.

Two things are done more cheaply than Flower does them, with the same result: each
round's ConfigRecords are copies of one round-constant record with only the
client's fields set (``wire.with_fields``), and the replies are averaged from views
of their ``.npy`` bytes with Flower's float32 arithmetic, in Flower's order
(``fedbench.fl.aggregation``), instead of through ``np.load``/``np.save``.

Each round's bookkeeping (sampled, stragglers, dropped, failed, examples, train
loss) is kept in ``self.log`` for the ServerApp to write out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.exception import InconsistentMessageReplies
from flwr.serverapp.strategy import Result
from flwr.serverapp.strategy.strategy_utils import aggregate_metricrecords
from pydantic import BaseModel, ConfigDict

from fedbench.fl import wire
from fedbench.fl.aggregation import average_arrays, average_metrics
from fedbench.fl.sampling import plan_round


class Hyperparameters(BaseModel):
    """An algorithm's own hyperparameters (server learning rate, momentum, ...), with their
    defaults and allowed ranges; a config's ``params`` are validated against them.

    Strict like the config: ``server_lr: "0.1"`` or ``.inf`` is a mistake, not a value.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


@dataclass(frozen=True)
class AlgorithmDocs:
    """What the report says about an algorithm; nothing here changes a number of a cell."""

    title: str  # the legend name, e.g. "FedProx"
    source: str  # the publication, with the equations or algorithm the module follows
    # The paper's claim about plain averaging of unequal local work (the stragglers' partial
    # work), in fedbench's words, and where the paper makes it. A grid that runs the algorithm
    # and the plain average keeping partial work (the proximal algorithm at μ = 0) gets a
    # report section measuring it (fedbench.analysis.partial_work). "" for none.
    partial_work_claim: str = ""
    partial_work_claim_source: str = ""


@dataclass(frozen=True)
class Algorithm:
    """One aggregation algorithm, as its registry entry."""

    name: str  # the config and command-line name, e.g. "fedprox"
    # the strategy class: ``strategy(template, per_round=, straggler_rate=, straggler_rule=,
    # mu=, fail_prob=)``
    strategy: type[ReproducibleRounds]
    # True: the clients add the proximal term (mu/2)·||w - w_global||²; False: mu must be 0
    uses_mu: bool
    docs: AlgorithmDocs
    # the algorithm every other one is compared with, pair by pair (one in the registry)
    baseline: bool = False
    # its own hyperparameters (none: an empty model)
    hyperparameters: type[Hyperparameters] = Hyperparameters

    @property
    def drop_stragglers(self) -> bool:
        """True: a straggler's update is discarded (the FedProx paper's FedAvg); False: its
        partial work is aggregated. The strategy class states it (``drop_stragglers``)."""
        return self.strategy.drop_stragglers

    def label(self, mu: float) -> str:
        """The legend name of a variant: "FedAvg", "FedProx μ=0", "FedProx μ=2".

        FedProx with μ=0 is kept distinct from FedAvg on purpose: it keeps the
        stragglers' partial work, which is exactly what the published figure shows.
        """
        if not self.uses_mu and mu == 0:
            return self.docs.title
        return f"{self.docs.title} μ={float(mu):g}"

    def make_strategy(self, template: wire.TrainInstruction, *, per_round: int,
                      straggler_rate: float, straggler_rule: str, mu: float,
                      fail_prob: float = 0.0,
                      params: Mapping[str, Any] | None = None) -> ReproducibleRounds:
        """The strategy of one cell; ``params`` are checked against ``hyperparameters``
        (pydantic's ValidationError names a bad key and its allowed range)."""
        return self.strategy(template, per_round=per_round, straggler_rate=straggler_rate,
                             straggler_rule=straggler_rule, mu=mu, fail_prob=fail_prob,
                             params=self.hyperparameters.model_validate(dict(params or {})))


@dataclass(frozen=True)
class RoundLog:
    round: int
    sampled: int
    stragglers: int
    dropped: int
    failed: int
    examples: int
    train_loss: float


class ReproducibleRounds:
    """Mixin over Flower's FedAvg: seeded sampling, paired stragglers, sorted aggregation."""

    drop_stragglers: bool

    def _setup(
        self,
        template: wire.TrainInstruction,
        per_round: int,
        straggler_rate: float,
        straggler_rule: str,
        fail_prob: float = 0.0,
    ) -> None:
        self.template = template
        self.per_round = per_round
        self.straggler_rate = straggler_rate
        self.straggler_rule = straggler_rule
        self.fail_prob = fail_prob
        self.log: list[RoundLog] = []
        self._sent: dict[int, int] = {}
        self._record: tuple[tuple[object, ...], ConfigRecord] | None = None

    def _template_record(self) -> ConfigRecord:
        """``self.template`` with this strategy's fixed fields, as a ConfigRecord (cached).

        The cache is keyed by the template object and the fields set here, so assigning
        a new template (or changing ``fail_prob``) rebuilds it. Never sent itself:
        ``configure_train`` sends copies (``wire.with_fields``).
        """
        key = (self.template, self.drop_stragglers, self.fail_prob)
        if self._record is None or self._record[0] != key:  # the template: compared by `is` first
            ins = replace(
                self.template, drop_straggler=self.drop_stragglers, fail_prob=self.fail_prob
            )
            self._record = (key, ins.to_config())
        return self._record[1]

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        nodes = sorted(grid.get_node_ids())
        tasks = plan_round(
            self.template.seed,
            server_round,
            self.template.num_clients,
            self.per_round,
            self.template.epochs,
            self.straggler_rate,
            self.straggler_rule,
        )
        self._sent[server_round] = len(tasks)
        # The round's constant part of every message's ConfigRecord, built once: each
        # message gets a shallow copy with only its client's fields set (wire.with_fields).
        base = wire.with_fields(self._template_record(), server_round=server_round)
        for key, value in config.items():  # strategy-level extras (e.g. proximal-mu)
            base.setdefault(key, value)
        messages = []
        for t in tasks:
            cfg = wire.with_fields(
                base, partition_id=t.partition, epochs=t.epochs, straggler=t.straggler
            )
            content = RecordDict({self.arrayrecord_key: arrays, self.configrecord_key: cfg})
            extra = self.client_records(t.partition)
            if extra is not None:
                content[wire.CORRECTION] = extra
            messages.append(
                Message(
                    content,
                    dst_node_id=nodes[t.partition % len(nodes)],
                    message_type=MessageType.TRAIN,
                    group_id=str(server_round),
                )
            )
        return messages

    def start(
        self,
        grid: Grid,
        initial_arrays: ArrayRecord,
        num_rounds: int = 3,
        timeout: float = 3600,
        train_config: ConfigRecord | None = None,
        evaluate_config: ConfigRecord | None = None,
        evaluate_fn: Callable[[int, ArrayRecord], MetricRecord | None] | None = None,
        *,
        first_round: int = 1,
        on_round_end: Callable[[int, ArrayRecord], None] | None = None,
    ) -> Result:
        """Flower's ``Strategy.start`` loop, able to resume at ``first_round``.

        Flower's loop always starts at round 1, so a run killed at round 80 of 100
        would start over. With every random choice a function of (seed, round,
        client), resuming from the checkpointed global model of round r - 1
        gives exactly the numbers of an uninterrupted run. ``on_round_end`` is
        where the ServerApp writes its checkpoints.
        """
        train_config = ConfigRecord() if train_config is None else train_config
        evaluate_config = ConfigRecord() if evaluate_config is None else evaluate_config
        result = Result()
        arrays = initial_arrays
        if evaluate_fn and first_round == 1:
            res = evaluate_fn(0, arrays)
            if res is not None:
                result.evaluate_metrics_serverapp[0] = res
        for rnd in range(first_round, num_rounds + 1):
            replies = grid.send_and_receive(
                messages=self.configure_train(rnd, arrays, train_config, grid), timeout=timeout
            )
            agg_arrays, agg_metrics = self.aggregate_train(rnd, replies)
            if agg_arrays is not None:
                result.arrays = arrays = agg_arrays
            if agg_metrics is not None:
                result.train_metrics_clientapp[rnd] = agg_metrics
            eval_replies = grid.send_and_receive(  # empty: federated evaluation is off
                messages=self.configure_evaluate(rnd, arrays, evaluate_config, grid),
                timeout=timeout,
            )
            agg_eval = self.aggregate_evaluate(rnd, eval_replies)  # type: ignore[attr-defined]
            if agg_eval is not None:
                result.evaluate_metrics_clientapp[rnd] = agg_eval
            if evaluate_fn:
                res = evaluate_fn(rnd, arrays)
                if res is not None:
                    result.evaluate_metrics_serverapp[rnd] = res
            if on_round_end:
                on_round_end(rnd, arrays)
        return result

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = list(replies)
        ok = [m for m in replies if not m.has_error()]
        failed = self._sent.get(server_round, len(replies)) - len(ok)
        ok.sort(key=lambda m: int(m.content["metrics"][wire.PARTITION]))
        kept = [m for m in ok if not int(m.content["metrics"][wire.DROPPED])]
        stragglers = sum(int(m.content["metrics"][wire.STRAGGLER]) for m in ok)
        examples = sum(int(m.content["metrics"][wire.NUM_EXAMPLES]) for m in kept)
        loss = (
            (
                sum(
                    float(m.content["metrics"][wire.TRAIN_LOSS])
                    * int(m.content["metrics"][wire.NUM_EXAMPLES])
                    for m in kept
                )
                / examples
            )
            if examples
            else float("nan")
        )
        self.log.append(
            RoundLog(
                server_round,
                self._sent.get(server_round, len(replies)),
                stragglers,
                len(ok) - len(kept),
                failed,
                examples,
                loss,
            )
        )
        if not kept:
            return None, None  # nothing to average: the global model stays as it is
        return self.aggregate_kept(server_round, kept)

    # --- what an algorithm changes (defaults: FedAvg's weighted average, no state) -------------

    def aggregate_kept(self, server_round: int,
                       replies: list[Message]) -> tuple[ArrayRecord, MetricRecord]:
        """The new global model from the round's kept replies, sorted by partition.

        FedAvg's weighted average here; an algorithm with a server optimiser or its own
        normalisation overrides it (calling Flower's ``aggregate_train`` of its strategy,
        or ``self._average``).
        """
        return self._average(replies)

    def client_records(self, partition: int) -> ArrayRecord | None:
        """Extra arrays sent to one client with its instruction (``wire.CORRECTION``: a
        term the client adds to every local gradient, SCAFFOLD's c − c_i), or None."""
        return None

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The strategy's own state (server momentum, moments, control variates) as arrays,
        saved in every checkpoint so that a resumed run equals an uninterrupted one."""
        return {}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``state_arrays`` returned."""
        if arrays:
            raise ValueError(f"{type(self).__name__} has no state, got {sorted(arrays)}")

    def _average(self, replies: list[Message]) -> tuple[ArrayRecord, MetricRecord]:
        """Flower's ``FedAvg.aggregate_train`` on ``replies``, bit for bit, without ``np.load``.

        Flower's ``aggregate_arrayrecords`` decodes every array with ``np.load`` and encodes
        the average with ``np.save``. Here the arrays are read as views of the replies'
        bytes (``wire.array_view``) and the average is written with the cached ``.npy``
        header, with Flower's arithmetic kept exactly: weights ``n_i / sum(n)`` in Python
        floats, then ``acc = a_0 * w_0; acc += a_i * w_i`` in the arrays' dtype (float32),
        in reply order. The metrics are averaged as ``aggregate_metricrecords`` does
        (``average_metrics``) unless the strategy was given its own function.
        tests/test_strategy.py pins both against Flower's functions.
        """
        contents = [m.content for m in replies]
        metrics = [c["metrics"] for c in contents]
        records = [c[self.arrayrecord_key] for c in contents]
        keys = records[0].keys()
        if any(r.keys() != keys for r in records[1:]):
            raise InconsistentMessageReplies(
                reason="All ArrayRecords must have the same keys for aggregation."
            )
        weights = [m[self.weighted_by_key] for m in metrics]
        total = sum(weights)
        factors = [w / total for w in weights]
        arrays = ArrayRecord()
        for key, value in average_arrays(records, factors).items():
            arrays[key] = wire.ndarray_to_array(np.asarray(value))
        if self.train_metrics_aggr_fn is aggregate_metricrecords:
            return arrays, average_metrics(metrics, factors, self.weighted_by_key)
        return arrays, self.train_metrics_aggr_fn(contents, self.weighted_by_key)


