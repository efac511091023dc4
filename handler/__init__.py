"""The TorchServe handler. ``feedback_handler.py`` is packed alone into each ``.mar``."""
