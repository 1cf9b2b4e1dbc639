"""The shipped presets. Importing this package registers them (the notebook's three, then the published-data
ones); the registry itself imports none of them. ``atlas`` (siibra) is optional and registers nothing."""

from . import notebook, published  # noqa: F401  (registration happens on import)
