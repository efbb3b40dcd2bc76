"""Engines that run the same ServerApp and ClientApp: ``inprocess`` and ``ray``."""
