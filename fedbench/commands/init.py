"""``fedbench init DIR``: write the shipped experiment configs into DIR/configs/.

For a fedbench installed with ``pip install .``: the configs (and the regression
references of ``configs/expected/``) travel inside the package, and this copies them
where ``fedbench run --config configs/<name>.yaml`` looks, to read and edit. Files
that are already there are left alone unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "write the shipped experiment configs into DIR/configs/"


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, metavar="DIR", help="directory to write configs/ into")
    p.add_argument("--force", action="store_true", help="overwrite files that differ")


def execute(args: argparse.Namespace) -> int:
    from fedbench.errors import UsageError
    from fedbench.io import atomic_write_bytes
    from fedbench.shipped import shipped_files

    target = args.dir / "configs"
    files = shipped_files()
    clashes = [name for name, data in files.items()
               if (target / name).exists() and (target / name).read_bytes() != data]
    if clashes and not args.force:
        raise UsageError(f"{target}: {len(clashes)} file(s) differ from the shipped ones "
                         f"({', '.join(clashes[:4])}{' ...' if len(clashes) > 4 else ''}); "
                         "keep them, or overwrite with --force")
    for name, data in files.items():
        atomic_write_bytes(target / name, data)
    print(f"wrote {len(files)} files under {target}; next: cd {args.dir} && fedbench run "
          "--config configs/quick.yaml --out results/x", file=sys.stderr)
    return 0
