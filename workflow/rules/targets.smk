# Rounds to reach the target accuracy per (partition, model, E, B, lr) setting: the published
# metric of the FedAvg MNIST baseline (McMahan et al. 2017), with its report.pdf. Used by grids
# with grid.settings, whose report this is (instead of rules aggregate and report, which key
# runs by straggler rate and variant). The files marked report() also make up
# `snakemake --report reports/<name>/report.html`.

# report.pdf and provenance.json are outputs of this rule and of rules report / aggregate: the
# grid's kind decides which rule makes them.
if SETTING_AXIS:

    ruleorder: targets > report
    ruleorder: targets > aggregate

else:

    ruleorder: report > targets
    ruleorder: aggregate > targets


rule targets:
    input:
        rounds=cell_files("rounds.csv"),
        runs=cell_files("run.json"),
        config=f"{RESULTS}/{{name}}/config.yaml",
    output:
        seeds=report(
            f"{REPORTS}/{{name}}/targets.csv",
            caption="../report/targets_seeds.rst",
            category="Tables",
            labels={"table": "rounds to target per seed"},
        ),
        table=report(
            f"{REPORTS}/{{name}}/targets_summary.csv",
            caption="../report/targets_table.rst",
            category="Tables",
            labels={"table": "rounds to target per setting"},
        ),
        curves=f"{REPORTS}/{{name}}/targets_rounds.csv",
        provenance=f"{REPORTS}/{{name}}/provenance.json",
        png=report(
            f"{REPORTS}/{{name}}/figures/target_curves.png",
            caption="../report/target_curves.rst",
            category="Figures",
            labels={"figure": "accuracy per round and target"},
        ),
        pdf_figure=f"{REPORTS}/{{name}}/figures/target_curves.pdf",
        pdf=report(
            f"{REPORTS}/{{name}}/report.pdf",
            caption="../report/targets_pdf.rst",
            category="Report",
            labels={"document": "report.pdf"},
        ),
    params:
        run_dirs=lambda wildcards, input: sorted({os.path.dirname(f) for f in input.runs}),
        out_dir=lambda wildcards, output: os.path.dirname(output.table),
        code=TARGETS_CODE,  # the fedbench sources this command executes
    log:
        "logs/{name}/targets.log",
    conda:
        "../../environment.yml"
    shell:
        "fedbench targets --name {wildcards.name} --config {input.config:q}"
        " --out-dir {params.out_dir:q} {params.run_dirs:q} > {log:q} 2>&1"
