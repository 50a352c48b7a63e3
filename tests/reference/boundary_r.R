## A random-slope model whose optimum has a correlation of -1 (a diagonal theta of 0), for
## tests/lmm/test_optimum.py: mixedfx must land on the boundary (a singular fit, as lme4 reports
## it) at or below lme4's criterion. Run from the repository root:
##     Rscript tests/reference/boundary_r.R
## It writes tests/reference/boundary.csv (the simulated data) and boundary_r.json (lme4's REML
## criterion, theta and isSingular, numbers as strings with 17 significant digits).
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
})

set.seed(24)
n_g <- 30
n_per <- 8
g <- factor(rep(1:n_g, each = n_per))
x <- rnorm(n_g * n_per)
z <- rnorm(n_g * n_per)
u <- rnorm(n_g)
v <- rnorm(n_g)
y <- 2 + 1.5 * x + u[g] - 0.6 * u[g] * x + 0.5 * v[g] * z + rnorm(n_g * n_per, sd = 1)
d <- data.frame(y, x, z, g)
write.csv(d, "tests/reference/boundary.csv", row.names = FALSE)
fit <- lmer(y ~ x + z + (x + z | g), d)
num <- function(x) I(sprintf("%.17g", x))
writeLines(toJSON(list(lme4_version = as.character(packageVersion("lme4")), formula = "y ~ x + z + (x + z | g)",
                       reml = num(REMLcrit(fit)), theta = num(unname(getME(fit, "theta"))),
                       singular = isSingular(fit)),
                  auto_unbox = TRUE, pretty = TRUE, digits = NA), "tests/reference/boundary_r.json")
