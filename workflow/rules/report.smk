# Figures (the published loss/accuracy grid with seed bands, final accuracy) and the PDF.
# The files marked report() also make up `snakemake --report reports/<name>/report.html`.


rule report:
    input:
        summary=f"{REPORTS}/{{name}}/summary.csv",
        rounds=f"{REPORTS}/{{name}}/rounds.csv",
        provenance=f"{REPORTS}/{{name}}/provenance.json",
        config=f"{RESULTS}/{{name}}/config.yaml",
    output:
        *[f"{REPORTS}/{{name}}/figures/{fig}.{fmt}" for fig in EXTRA_FIGURES for fmt in ("png", "pdf")],
        curves=report(
            f"{REPORTS}/{{name}}/figures/curves.png",
            caption="../report/curves.rst",
            category="Figures",
            labels={"figure": "loss and accuracy per round"},
        ),
        curves_pdf=f"{REPORTS}/{{name}}/figures/curves.pdf",
        final=report(
            f"{REPORTS}/{{name}}/figures/final_accuracy.png",
            caption="../report/final_accuracy.rst",
            category="Figures",
            labels={"figure": "final accuracy"},
        ),
        final_pdf=f"{REPORTS}/{{name}}/figures/final_accuracy.pdf",
        pdf=report(
            f"{REPORTS}/{{name}}/report.pdf",
            caption="../report/report_pdf.rst",
            category="Report",
            labels={"document": "report.pdf"},
        ),
    params:
        reports_dir=lambda wildcards, output: os.path.dirname(output.pdf),
        code=REPORT_CODE,  # the fedbench sources this command executes
    log:
        "logs/{name}/report.log",
    conda:
        "../../environment.yml"
    shell:
        "fedbench report --name {wildcards.name} --config {input.config:q}"
        " --reports-dir {params.reports_dir:q} > {log:q} 2>&1"
