"""The "Provenance" section: what produced the numbers (versions, commit, config, digests,
the runs' times and compute), so a reader can tell two reports of different code apart."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fedbench.config import ExperimentConfig
from fedbench.report.layout import Document, duration, join
from fedbench.report.sections import Section

HEADING = "Provenance"


def experiment_digest(config: ExperimentConfig) -> str:
    """Short hash of the experiment config's numbers-defining settings (as RunConfig.digest)."""
    payload = config.model_dump(exclude={"runtime", "results_dir", "reports_dir"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def provenance_rows(prov: dict[str, Any], config: ExperimentConfig | None,
                    config_path: str | None) -> list[list[str]]:
    versions = prov.get("versions", {})
    n_runs, n_div = prov.get("n_runs", 0), prov.get("n_diverged", 0)
    digests = prov.get("config_digests", [])
    rows = [
        ["fedbench version", join(versions.get("fedbench", []))],
        ["git commit", join(prov.get("git_commits", []))],
        ["Flower (flwr)", join(versions.get("flwr", []))],
        ["PyTorch", join(versions.get("torch", []))],
        ["NumPy / Python", f"{join(versions.get('numpy', []))} / "
                           f"{join(versions.get('python', []))}"],
        ["backend", join(prov.get("backends", []))],
    ]
    if config is not None:
        rows.append(["experiment config", f"{config_path or 'given'} "
                                          f"(digest {experiment_digest(config)})"])
    rows += [
        ["run config digests", (digests[0] if len(digests) == 1 else
                                f"{len(digests)} distinct, combined {prov.get('combined_digest')} "
                                "(per run: provenance.json)")],
        ["runs", f"{n_runs} ({n_div} diverged"
                 + (f", {prov['n_failed']} failed)" if prov.get("n_failed") else ")")],
        ["runs started / finished", f"{prov.get('runs_started_at') or '?'} / "
                                    f"{prov.get('runs_finished_at') or '?'}"],
        ["aggregated (date)", str(prov.get("created_at", "?"))],
        ["total compute time", f"{duration(float(prov.get('total_compute_seconds', 0.0)))} "
                               f"(sum of per-run wall time)"],
    ]
    return rows


def add(doc: Document, report: Any) -> None:
    """Either report kind: both carry provenance.json's content and the config."""
    doc.heading(HEADING)
    doc.key_value_table(provenance_rows(report.prov, report.config, report.config_path))


SECTION = Section(HEADING, add)
