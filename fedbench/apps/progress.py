"""The per-round progress of ``fedbench run`` on stderr.

On a terminal the progress is one line, rewritten in place each round (carriage return,
then erase to the end of the line); the line is ended when the last round is shown or when
a message (``note``) follows it. Anywhere else (a log file, a pipe, Snakemake's logs) it is
one line per round, so that nothing in a log is overwritten.
"""

from __future__ import annotations

import sys
from typing import TextIO

ERASE_LINE = "\r\x1b[K"  # back to column 0, erase to the end of the line


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """Callable ``(round, test_accuracy, test_loss, elapsed_seconds)``, one call per round."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.in_place = is_terminal(self.stream)
        self.open = False  # an in-place line has been written and not ended

    def text(self, rnd: int, acc: float, loss: float, elapsed: float) -> str:
        eta_text = f"{elapsed / rnd * (self.total - rnd):5.1f}s" if rnd else "  -  "
        return (f"round {rnd:4d}/{self.total}  test_acc {acc:.4f}  test_loss {loss:.4f}  "
                f"ETA {eta_text}")

    def __call__(self, rnd: int, acc: float, loss: float, elapsed: float) -> None:
        text = self.text(rnd, acc, loss, elapsed)
        if self.in_place:
            self.stream.write(ERASE_LINE + text)
            self.open = rnd < self.total
            if not self.open:
                self.stream.write("\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end_line(self) -> None:
        """End an in-place line that is still open, so that what follows starts a new line."""
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False

    def note(self, message: str) -> None:
        """A message after the progress (the run ended early): on its own line."""
        self.end_line()
        self.stream.write(message + "\n")
        self.stream.flush()
