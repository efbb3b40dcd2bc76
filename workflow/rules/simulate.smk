# One job per grid cell: `fedbench run` with the cell's algorithm, mu, stragglers and seed.
# (No ancient() inputs on purpose: with Snakemake 9.27, a rerun of the producer of an ancient()
# input hides the new cells of a changed grid from the DAG; see common.smk for what reruns.)


rule resolved_config:
    # The whole validated config (defaults, --configfile and --config applied); for the report.
    output:
        f"{RESULTS}/{{name}}/config.yaml",
    params:
        text=RESOLVED_CONFIG,  # Snakemake rewrites the file when this (its content) changes
    log:
        "logs/{name}/resolved_config.log",
    localrule: True
    conda:
        "../../environment.yml"
    shell:
        "printf '%s' {params.text:q} > {output:q} 2> {log:q}"


rule run_config:
    # The settings every cell runs with: the config without the grid, folders and threads.
    output:
        f"{RESULTS}/{{name}}/run_config.yaml",
    params:
        text=RUN_CONFIG,  # Snakemake rewrites the file when this (its content) changes
    log:
        "logs/{name}/run_config.log",
    localrule: True
    conda:
        "../../environment.yml"
    shell:
        "printf '%s' {params.text:q} > {output:q} 2> {log:q}"


rule simulate:
    input:
        images=image_files,
        config=f"{RESULTS}/{{name}}/run_config.yaml",
    output:
        rounds=f"{RESULTS}/{{name}}/{CELL}/rounds.csv",
        run=f"{RESULTS}/{{name}}/{CELL}/run.json",
    params:
        out=lambda wildcards, output: os.path.dirname(output.rounds),
        # " --protocol <p>" / " --setting <s>" when the grid has those axes, else nothing
        options=cell_options,
        # Snakemake reruns a job whose params changed:
        code=SIMULATE_CODE,  # the fedbench sources that `fedbench run` executes
        software=SOFTWARE,  # flwr / torch / numpy versions
    log:
        f"logs/{{name}}/simulate/{CELL}.log",
    benchmark:
        f"logs/{{name}}/benchmarks/{CELL}.tsv"
    threads: EXPERIMENT.runtime.threads
    resources:
        gpu=GPUS_PER_CELL,
    conda:
        "../../environment.yml"
    shell:
        "fedbench run --config {input.config:q}{params.options}"
        " --stragglers {wildcards.stragglers} --seed {wildcards.seed}"
        " --threads {threads} --out {params.out:q} --quiet > {log:q} 2>&1"
