"""Flower building blocks below the algorithms: the wire format between ServerApp and
ClientApp, client sampling, the models, local training and reply averaging."""
