"""The texts lme4, lmerTest and R print: print(fit), summary(fit), anova tables."""
