"""A Flower ``Grid`` that delivers each message to the ClientApp in this process.

Flower's Simulation Engine spends ~2.3 s per round on Ray scheduling and
serialisation for a round whose training costs milliseconds. This Grid keeps
Flower's message protocol — the strategy builds ``Message`` objects, the
ClientApp is called with a ``Message`` and ``Context`` and replies with one —
but hands messages over as Python objects. A ClientApp exception becomes an
error reply, as in Flower's runtimes, so a failing client never kills a round.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.serverapp import Grid, ServerApp
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

CLIENT_APP_EXCEPTION = 2  # flwr.common.constant.ErrorCode.CLIENT_APP_RAISED_EXCEPTION


class InProcessGrid(Grid):
    """Nodes 1..N, each running ``client_app``; replies are computed on pull."""

    def __init__(self, client_app: ClientApp, num_nodes: int, run_id: int = 1) -> None:
        self._client_app = client_app
        self._run = Run.create_empty(run_id)
        self._node_ids = list(range(1, num_nodes + 1))
        self._contexts: dict[int, Context] = {}
        self._pending: dict[str, Message] = {}
        self._ids = itertools.count(1)

    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        return self._run

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self._node_ids)

    def _context(self, node_id: int) -> Context:
        if node_id not in self._contexts:
            self._contexts[node_id] = Context(
                run_id=self._run.run_id,
                node_id=node_id,
                node_config={"partition-id": node_id - 1, "num-partitions": len(self._node_ids)},
                state=RecordDict(),
                run_config={},
            )
        return self._contexts[node_id]

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for msg in messages:
            msg_id = str(next(self._ids))
            msg.metadata.__dict__["_message_id"] = msg_id
            self._pending[msg_id] = msg
            ids.append(msg_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        replies = []
        for msg_id in message_ids:
            msg = self._pending.pop(msg_id, None)
            if msg is None:
                continue
            try:
                reply = self._client_app(msg, self._context(msg.metadata.dst_node_id))
            except Exception as exc:  # the runtime's contract: an error reply, not a crash
                reply = Message(
                    Error(CLIENT_APP_EXCEPTION, f"{type(exc).__name__}: {exc}"), reply_to=msg
                )
            reply.metadata.__dict__["_message_id"] = str(next(self._ids))
            replies.append(reply)
        return replies

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))


def run_inprocess(server_app: ServerApp, client_app: ClientApp, num_nodes: int) -> None:
    """Run ``server_app`` against ``num_nodes`` in-process nodes of ``client_app``."""
    grid = InProcessGrid(client_app, num_nodes)
    TaskIdentity.task_id = 1
    TaskIdentity.run_id = grid.run.run_id
    TaskIdentity.node_id = SUPERLINK_NODE_ID
    server_app(
        grid,
        Context(
            run_id=grid.run.run_id,
            node_id=SUPERLINK_NODE_ID,
            node_config={},
            state=RecordDict(),
            run_config={},
        ),
    )
