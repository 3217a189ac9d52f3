"""The one exception type for user mistakes in the worker's configuration."""


class ConfigError(Exception):
    """Bad configuration: the message is one line that names the setting and what is wrong."""
