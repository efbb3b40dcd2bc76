"""fedbench: reproducible FedAvg/FedProx benchmarks on MNIST with Flower and Snakemake."""

__version__ = "0.1.0"
