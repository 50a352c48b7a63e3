"""Optimisers (BOBYQA, L-BFGS-B, Newton steps), their summary and lme4's convergence checks."""
