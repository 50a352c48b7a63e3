"""R's base-package numerics that several stages share: rounding, zapsmall, quantiles, R's formatting of numbers, nmath's log-densities."""
