# Every cell's rounds.csv and run.json into one tidy table and a summary per cell.


rule aggregate:
    input:
        rounds=cell_files("rounds.csv"),
        runs=cell_files("run.json"),
    output:
        rounds=f"{REPORTS}/{{name}}/rounds.csv",
        summary=report(
            f"{REPORTS}/{{name}}/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
            labels={"table": "final accuracy per cell"},
        ),
        provenance=f"{REPORTS}/{{name}}/provenance.json",
    params:
        run_dirs=lambda wildcards, input: sorted({os.path.dirname(f) for f in input.runs}),
        out_dir=lambda wildcards, output: os.path.dirname(output.summary),
        code=AGGREGATE_CODE,  # the fedbench sources this command executes
    log:
        "logs/{name}/aggregate.log",
    conda:
        "../../environment.yml"
    shell:
        "fedbench aggregate --name {wildcards.name} --out-dir {params.out_dir:q}"
        " {params.run_dirs:q} > {log:q} 2>&1"
