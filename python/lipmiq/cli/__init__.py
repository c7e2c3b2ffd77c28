"""The command line `lipmiq bound | radius | monotone | batch | plot`."""
from .main import main

__all__ = ["main"]
