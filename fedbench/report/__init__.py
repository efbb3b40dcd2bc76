"""Drawing results: the figures and the PDF reports, from what ``fedbench.analysis`` computed.

The layer computes no number of its own. ``layout`` places text, tables and figures on A4
pages; ``figures`` draws with matplotlib (no pyplot, no TeX); ``sections`` has one module
per report section; ``build`` lists the sections of each report kind and writes the files.
"""
