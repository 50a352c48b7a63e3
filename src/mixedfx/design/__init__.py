"""From a formula and a data frame to the model's matrices: the model frame, X, the random-effects terms, lme4's input checks, new-data matrices."""
