"""Feedback Analyzer training and serving: data, fine-tuning, evaluation, archives, TorchServe.

Kept empty on purpose: the CLI imports its command modules lazily, so ``feedback
classify`` and ``feedback data check`` never pull in torch.
"""
