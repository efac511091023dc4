"""Feedback Analyzer training package.

Kept empty on purpose: importing ``training.labels`` or ``training.records`` must not
pull in torch, so the desktop client and the data check stay light.
"""
