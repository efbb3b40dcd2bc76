# Rounds to reach the target accuracy per (partition, model, E, B, lr) setting: the published
# metric of the FedAvg MNIST baseline (McMahan et al. 2017). Used by grids with grid.settings.


rule targets:
    input:
        rounds=cell_files("rounds.csv"),
        runs=cell_files("run.json"),
    output:
        table=f"{REPORTS}/{{name}}/targets.csv",
        curves=f"{REPORTS}/{{name}}/targets_rounds.csv",
        png=f"{REPORTS}/{{name}}/figures/target_curves.png",
        pdf_figure=f"{REPORTS}/{{name}}/figures/target_curves.pdf",
        pdf=f"{REPORTS}/{{name}}/targets.pdf",
    params:
        run_dirs=lambda wildcards, input: sorted({os.path.dirname(f) for f in input.runs}),
        out_dir=lambda wildcards, output: os.path.dirname(output.table),
        code=TARGETS_CODE,  # the fedbench sources this command executes
    log:
        "logs/{name}/targets.log",
    conda:
        "../../environment.yml"
    shell:
        "fedbench targets --name {wildcards.name} --out-dir {params.out_dir:q}"
        " {params.run_dirs:q} > {log:q} 2>&1"
