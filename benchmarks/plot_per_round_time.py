"""Per-round wall time of one cell on each backend: benchmarks/per_round_time.png.

    .venv/bin/python benchmarks/plot_per_round_time.py                 # runs both backends
    .venv/bin/python benchmarks/plot_per_round_time.py --inprocess A/rounds.csv --ray B/rounds.csv

By default it runs the published figure's hardest cell (FedProx, mu=2, 90 % stragglers,
seed 0, the default grid's 1000 clients) with ``fedbench run``: ``--rounds`` rounds
in-process and ``--ray-rounds`` on Flower's Simulation Engine (Ray start-up is not
in any round; Ray's first round includes its actors' warm-up and is marked).
Times are the ``seconds`` column of rounds.csv; the y axis is logarithmic.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402


def run_backend(backend: str, rounds: int, out: Path) -> Path:
    cfg = harness.cell_config(
        harness.REPO / "resources", harness.FULL, rounds=rounds, backend=backend
    )
    wall, _, code, log = harness.run_process(harness.fedbench_command(cfg, out))
    if code:
        raise SystemExit(f"fedbench run --backend {backend} failed:\n{log[-3000:]}")
    print(f"{backend}: {rounds} rounds, process {wall:.1f} s", file=sys.stderr)
    return out / "rounds.csv"


def per_round(csv_path: Path) -> tuple[list[int], list[float]]:
    rows = harness.read_rounds(csv_path.parent)
    pairs = [(int(r["round"]), float(r["seconds"])) for r in rows if int(r["round"]) > 0]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot(series: dict[str, Path], out: Path, baseline_s: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=150)
    colours = {"inprocess": "tab:blue", "ray": "tab:orange"}
    medians, per_backend = {}, {}
    for backend, path in series.items():
        rounds, seconds = per_round(path)
        per_backend[backend] = dict(zip(rounds, seconds, strict=True))
        ms = [s * 1e3 for s in seconds]
        steady = ms[1:] if len(ms) > 1 else ms
        medians[backend] = statistics.median(steady)
        first = rounds[1] if len(rounds) > 1 else rounds[0]
        label = f"{backend} (median {medians[backend]:.0f} ms, rounds {first}-{rounds[-1]})"
        ax.plot(rounds, ms, marker="o", ms=3, lw=1, color=colours.get(backend), label=label)
        if backend == "ray" and len(ms) > 1:
            ax.annotate(
                "actor warm-up",
                (rounds[0], ms[0]),
                textcoords="offset points",
                xytext=(8, -4),
                fontsize=8,
                color=colours["ray"],
            )
    ax.set_yscale("log")
    ax.set_xlabel("round")
    ax.set_ylabel("wall time per round (ms, log scale)")
    if baseline_s:
        ax.axhline(
            baseline_s * 1e3,
            color="tab:red",
            ls="--",
            lw=1,
            label=f"Flower's FedProx baseline on Ray (flwr run): {baseline_s:.2f} s",
        )
    title = "FedProx mu=2, 90 % stragglers, 1000 clients, 10 per round"
    if {"inprocess", "ray"} <= per_backend.keys():
        common = sorted(set(per_backend["inprocess"]) & set(per_backend["ray"]) - {1})
        if common:
            ratio = statistics.median(per_backend["ray"][r] for r in common) / statistics.median(
                per_backend["inprocess"][r] for r in common
            )
            title += f"\nray / inprocess, rounds {common[0]}-{common[-1]}: {ratio:.1f}x"
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    print(f"wrote {out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inprocess", type=Path, help="rounds.csv of an in-process run (else run one)")
    p.add_argument("--ray", type=Path, help="rounds.csv of a Ray run (else run one)")
    p.add_argument("--rounds", type=int, default=100, help="in-process rounds to run (default 100)")
    p.add_argument("--ray-rounds", type=int, default=20, help="Ray rounds to run (default 20)")
    p.add_argument("--out", type=Path, default=HERE / "per_round_time.png")
    p.add_argument(
        "--flower-baseline-s",
        type=float,
        default=None,
        help="draw a reference line: seconds per round of Flower's own baseline on Ray",
    )
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        series = {
            "inprocess": args.inprocess or run_backend("inprocess", args.rounds, Path(tmp, "inp")),
            "ray": args.ray or run_backend("ray", args.ray_rounds, Path(tmp, "ray")),
        }
        plot(series, args.out, args.flower_baseline_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
