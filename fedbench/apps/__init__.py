"""The Flower apps of one cell and the engines that run them: ClientApp, ServerApp,
server-side evaluation, checkpoints, result files, and the in-process and Ray backends."""
