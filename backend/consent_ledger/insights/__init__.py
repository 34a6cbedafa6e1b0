"""Aggregate insights: the privacy budget each brand spends and the noise that protects each count."""
