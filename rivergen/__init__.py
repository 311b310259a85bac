"""RiverGen: a distributed data-and-AI platform on Ray.

The public surface is small: settings, errors and the app factory. Everything else is
implementation that deployments and compute tasks import by module.
"""

from rivergen.errors import RiverGenError
from rivergen.settings import Settings, load_settings

__version__ = "0.1.0"

__all__ = ["RiverGenError", "Settings", "__version__", "load_settings"]
