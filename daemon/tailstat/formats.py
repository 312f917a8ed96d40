"""Compatibility shim: the parse stage is the package `tailstat.parse` (one module per format family).

Kept so code written against `tailstat.formats` still imports; new code imports from `tailstat.parse`.
"""

from tailstat.parse import *
from tailstat.parse import __all__  # noqa: F401
