## lme4's fits of the random one-term glmer models in tests/reference/scalar_glmer.csv (written by
## scalar_glmer.py), for tests/glmm/test_scalar_lme4.py. Run from the repository root:
##     Rscript tests/reference/scalar_glmer_r.R
## It writes tests/reference/scalar_glmer_r.json: per model, lme4's theta, fixed effects, their standard
## errors and logLik (numbers as strings with 17 significant digits).
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
})

rows <- read.csv("tests/reference/scalar_glmer.csv", stringsAsFactors = FALSE)
num <- function(x) I(sprintf("%.17g", x))
fits <- list()
for (seed in unique(rows$model)) {
  d <- rows[rows$model == seed, ]
  d$g <- factor(d$g)
  d$f <- factor(d$f)
  formula <- d$formula[1]
  fit <- glmer(as.formula(formula), d, family = d$family[1])
  fits[[as.character(seed)]] <- list(
    formula = formula, family = d$family[1],
    theta = num(unname(getME(fit, "theta"))),
    fixef = num(unname(fixef(fit))), names = names(fixef(fit)),
    se = num(unname(sqrt(diag(as.matrix(vcov(fit)))))),
    loglik = num(as.numeric(logLik(fit))),
    messages = fit@optinfo$conv$lme4$messages)
}
writeLines(toJSON(list(lme4_version = as.character(packageVersion("lme4")), fits = fits),
                  auto_unbox = TRUE, pretty = TRUE, digits = NA), "tests/reference/scalar_glmer_r.json")
