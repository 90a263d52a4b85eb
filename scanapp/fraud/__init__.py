"""Fraud signals, risk scores, flags, cases and the market inspectors' workflow."""
