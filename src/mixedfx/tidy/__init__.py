"""broom.mixed's tidiers of a fit: ``tidy`` (its estimates), ``glance`` (one row), ``augment`` (per observation)."""

from mixedfx.tidy.augment import augment
from mixedfx.tidy.glance import glance
from mixedfx.tidy.tidy import tidy

__all__ = ["augment", "glance", "tidy"]
