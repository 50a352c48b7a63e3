"""What follows a fit: confidence intervals, profiles, bootstrap, simulation, denominator degrees of freedom, hypothesis tests, anova, all_fit."""
