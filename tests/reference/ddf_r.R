## Reference values for tests/test_ddf.py: lmerTest's (3.1-3) Satterthwaite and
## Kenward-Roger (pbkrtest 0.5.2) t-tests and type III F-tests of lmer fits, and the
## text R prints for them. Run from the repository root:
##     Rscript tests/reference/ddf_r.R
## It writes tests/reference/ddf_r.json. Numbers are written as strings with 17
## significant digits ("NA" for R's NA), so that they round-trip exactly; vectors stay
## arrays even when of length one.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lmerTest)
  library(pbkrtest)
})

out_file <- "tests/reference/ddf_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))

## cake without recipe C at 225 degrees: a missing cell (lme4 drops a column)
cake_missing_cell <- subset(cake, !(recipe == "C" & temperature == "225"))

## name = list(formula, data set, REML); the data sets are lme4's, as bundled with mixedfx
models <- list(
  sleepstudy_reml = list("Reaction ~ Days + (Days | Subject)", "sleepstudy", TRUE),
  sleepstudy_ml = list("Reaction ~ Days + (Days | Subject)", "sleepstudy", FALSE),
  cake_ordered = list("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake", TRUE),
  cake_numeric = list("angle ~ recipe * temp + (1 | recipe:replicate)", "cake", TRUE),
  cake_no_intercept = list("angle ~ 0 + recipe * temp + (1 | recipe:replicate)", "cake", TRUE),
  cake_not_hierarchical = list("angle ~ recipe:temp + temp + (1 | replicate)", "cake", TRUE),
  cake_missing_cell = list("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake_missing_cell", TRUE),
  sleepstudy_quadratic = list("Reaction ~ Days + I(Days^2) + (Days | Subject)", "sleepstudy", TRUE),
  penicillin = list("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", TRUE),
  dyestuff2_singular = list("Yield ~ 1 + (1 | Batch)", "Dyestuff2", TRUE)
)

## a data frame as {rows, columns, values: one list of strings per column}
table_json <- function(tab) {
  tab <- as.data.frame(tab, check.names = FALSE)
  list(rows = I(rownames(tab)), columns = I(names(tab)),
       values = lapply(tab, function(col) num(col)))
}

fit_model <- function(spec) {
  call <- substitute(lmer(F, data = D, REML = R),
                     list(F = as.formula(spec[[1]]), D = as.name(spec[[2]]), R = spec[[3]]))
  eval(call)
}

method_json <- function(fm, ddf) {
  coefs <- summary(fm, ddf = ddf)$coefficients
  aov <- anova(fm, ddf = ddf)
  list(coef = table_json(coefs),
       anova = table_json(aov),
       summary_text = I(capture.output(print(summary(fm, ddf = ddf)))),
       anova_text = I(capture.output(print(aov))))
}

out <- lapply(models, function(spec) {
  fm <- fit_model(spec)
  res <- list(formula = spec[[1]], data = spec[[2]], REML = spec[[3]],
              theta = num(getME(fm, "theta")), sigma = num(sigma(fm)),
              satterthwaite = method_json(fm, "Satterthwaite"))
  if (spec[[3]]) {
    res$kenward_roger <- method_json(fm, "Kenward-Roger")
    res$kenward_roger$vcov_adj <- lapply(seq_len(ncol(vcov(fm))),
                                         function(j) num(as.matrix(vcovAdj(fm))[, j]))
  }
  res
})

writeLines(toJSON(c(list(lmerTest_version = as.character(packageVersion("lmerTest")),
                         pbkrtest_version = as.character(packageVersion("pbkrtest"))), out),
                  auto_unbox = TRUE, pretty = TRUE), out_file)
