# Regression check: the grid's summary against the committed reference in configs/expected/.
# `snakemake --configfile configs/ci.yaml check` fails when a cell leaves its band or a
# published claim (FedProx beats FedAvg at 90 % stragglers; close at 0 %) does not hold.


rule check:
    input:
        f"{REPORTS}/{NAME}/check.txt",


rule regression_check:
    input:
        summary=f"{REPORTS}/{{name}}/summary.csv",
        expected="configs/expected/{name}.csv",
    output:
        report(
            f"{REPORTS}/{{name}}/check.txt",
            caption="../report/check.rst",
            category="Tables",
            labels={"table": "regression check"},
        ),
    params:
        code=CHECK_CODE,  # the fedbench sources this command executes
    log:
        "logs/{name}/check.log",
    conda:
        "../../environment.yml"
    shell:
        # the table goes to the log either way; the output exists only when the check passed
        "fedbench check --summary {input.summary:q} --expected {input.expected:q}"
        " > {log:q} 2>&1 && cp {log:q} {output:q} || (cat {log:q} >&2; exit 1)"
