# fedbench: FedAvg / FedProx on MNIST with Flower -- the benchmark grid, aggregated and reported.
#
#   snakemake --cores 8                                      # configs/default.yaml, 45 cells
#   snakemake --cores 2 --configfile configs/quick.yaml      # a small grid in about two minutes
#   snakemake --cores 8 --config federation='{rounds: 20}'   # any key, overridden
#   snakemake --profile workflow/profiles/default            # local defaults (or .../slurm)
#   snakemake --report reports/fedprox-mnist/report.html     # HTML report after a run
#
# Outputs: results/<name>/<algorithm>-mu<mu>-sf<stragglers>/seed<seed>/{rounds.csv,run.json},
# reports/<name>/{summary.csv,rounds.csv,provenance.json,figures/,report.pdf}, logs/<name>/.
# All logic lives in the fedbench package; the rules only call its command line.

from snakemake.utils import min_version

min_version("9.19")


# A --configfile is merged over this one (nested keys; lists replaced), then --config over both.
configfile: "configs/default.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/targets.smk"
include: "workflow/rules/check.smk"
include: "workflow/rules/messages.smk"


# The last line of a successful run names the report it wrote (workflow/rules/messages.smk).
onsuccess:
    announce_report()


rule all:
    default_target: True
    input:
        # every cell's results too, so that a deleted run file is rerun (Snakemake does not
        # regenerate a missing intermediate file when everything after it is up to date)
        cell_files("rounds.csv"),
        cell_files("run.json"),
        report_files(),
