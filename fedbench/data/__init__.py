"""Datasets and how they are split over clients: sources (MNIST, generated Synthetic(α, β)),
partitioners, the partition cache and the federation a protocol trains on."""
