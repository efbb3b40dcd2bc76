# What a successful `snakemake` says last (the Snakefile's onsuccess handler): the report it
# wrote, so that the PDF is found without knowing the reports/<name>/ layout.
# (No rules in this file: snakemake --lint wants functions and rules in separate files.)

import time

WORKFLOW_STARTED = time.time()


def report_message(started=None):
    """"fedbench: wrote reports/<name>/report.pdf ..." when this run (re)wrote the report,
    a note that it is unchanged when it exists from before, None when there is none."""
    pdf = Path(REPORTS, NAME, "report.pdf")
    if not pdf.is_file():
        return None
    since = WORKFLOW_STARTED if started is None else started
    if pdf.stat().st_mtime >= since:
        return (f"fedbench: wrote the report {pdf} (figures and tables beside it in "
                f"{pdf.parent}/)")
    return f"fedbench: the report {pdf} is unchanged by this run (already up to date)"


def announce_report():
    message = report_message()
    if message:
        print(message, file=sys.stderr, flush=True)
