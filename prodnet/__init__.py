"""prodnet: firm-to-firm production networks in a graph database, and the paper's pipeline on top."""

__version__ = "0.1.0"
