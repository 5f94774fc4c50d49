"""threadstorm: find thread-safety crashes in free-threaded CPython and its extensions.

This top-level module stays standard-library only and tiny: it is shipped into target
interpreters together with the harness and scenario packages.
"""

__version__ = "0.1.0"
