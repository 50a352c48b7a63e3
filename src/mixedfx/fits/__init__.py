"""The fitted models lme4 users know (merMod, lmerMod, glmerMod): estimates, random effects, predictions, and methods that call inference and report."""
