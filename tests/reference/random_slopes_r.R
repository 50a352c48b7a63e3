## lme4's REML fits of the random designs in tests/reference/random_slopes.csv (written by
## tests/reference/random_slopes.py), for tests/lmm/test_optimum.py: mixedfx must end at
## or below lme4's criterion on each. Run from the repository root:
##     Rscript tests/reference/random_slopes_r.R
## It writes tests/reference/random_slopes_r.json: per design its formula, lme4's REML
## criterion and theta (17 significant digits, as strings), and whether lme4 called the
## fit singular.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
})

out_file <- "tests/reference/random_slopes_r.json"
num <- function(x) I(sprintf("%.17g", x))
rows <- read.csv("tests/reference/random_slopes.csv")

model_formula <- function(name) {
  seed <- as.integer(sub("^s([0-9]+)k.*$", "\\1", name))
  k <- as.integer(sub("^.*k([0-9]+)$", "\\1", name))
  slopes <- paste(sprintf("x%d", seq_len(k - 1)), collapse = " + ")
  text <- sprintf("y ~ %s + (%s | g)", slopes, slopes)
  if (seed %% 2 == 1) text <- paste(text, "+ (1 + x1 | h)")
  text
}

out <- list(lme4_version = as.character(packageVersion("lme4")))
for (name in unique(rows$design)) {
  d <- rows[rows$design == name, ]
  d$g <- factor(d$g)
  d$h <- factor(d$h)
  text <- model_formula(name)
  fit <- suppressMessages(lmer(as.formula(text), data = d))
  out[[name]] <- list(formula = text, reml_criterion = num(REMLcrit(fit)), theta = num(getME(fit, "theta")),
                      singular = isSingular(fit), feval = fit@optinfo$feval)
}
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE), out_file)
