"""orchestra: start a project's processes in dependency order, with lossless prefixed output."""

__version__ = "0.1.0"
