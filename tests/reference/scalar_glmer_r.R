## lme4's fits of random one-term glmer models, for the tests: those in tests/reference/scalar_glmer.csv
## (written by scalar_glmer.py, for tests/glmm/test_scalar_lme4.py) by default, or those in
## tests/reference/<name>.csv given a name (stage2_forms, written by stage2_forms.py, for
## tests/glmm/test_model.py). Run from the repository root:
##     Rscript tests/reference/scalar_glmer_r.R [name]
## It writes tests/reference/<name>_r.json: per model, lme4's theta, fixed effects, their standard
## errors, logLik and convergence messages (numbers as strings with 17 significant digits).
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
})

args <- commandArgs(trailingOnly = TRUE)
name <- if (length(args)) args[1] else "scalar_glmer"
rows <- read.csv(sprintf("tests/reference/%s.csv", name), stringsAsFactors = FALSE)
num <- function(x) I(sprintf("%.17g", x))
fits <- list()
for (seed in unique(rows$model)) {
  d <- rows[rows$model == seed, ]
  d <- d[, colSums(is.na(d)) < nrow(d)]  # a model's rows leave other models' covariates empty
  for (factor_column in intersect(c("g", "f"), names(d))) d[[factor_column]] <- factor(d[[factor_column]])
  formula <- d$formula[1]
  fit <- suppressWarnings(glmer(as.formula(formula), d, family = d$family[1]))
  fits[[as.character(seed)]] <- list(
    formula = formula, family = d$family[1],
    theta = num(unname(getME(fit, "theta"))),
    fixef = num(unname(fixef(fit))), names = names(fixef(fit)),
    se = num(unname(sqrt(diag(as.matrix(vcov(fit)))))),
    loglik = num(as.numeric(logLik(fit))),
    messages = fit@optinfo$conv$lme4$messages)
}
writeLines(toJSON(list(lme4_version = as.character(packageVersion("lme4")), fits = fits),
                  auto_unbox = TRUE, pretty = TRUE, digits = NA), sprintf("tests/reference/%s_r.json", name))
