"""R's base-package numerics that several stages share: rounding, zapsmall, quantiles, and R's formatting of numbers."""
