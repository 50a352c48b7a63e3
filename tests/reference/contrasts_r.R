## Reference values for tests/design/test_contrasts_argument.py: lme4 fits whose fixed part codes
## its factors by the contrasts argument (R's contrasts.arg), lmerTest's type III table on such
## a fit, and predictions on new data. Run from the repository root:
##     Rscript tests/reference/contrasts_r.R
## It writes tests/reference/contrasts_r.json: per case the call, X's column names, the fixed
## effects, the REML criterion or deviance, and where asked the predictions and anova table.
## Numbers are strings with 17 significant digits.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
  library(lmerTest)
})

out_file <- "tests/reference/contrasts_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))

helmert_matrix <- matrix(c(-1, 0, 1, 1, -2, 1), nrow = 3)  # recipe's own contrasts: linear, quadratic

cake_cases <- list(
  sum = list(recipe = "contr.sum"),
  helmert = list(recipe = "contr.helmert"),
  treatment_base2 = list(recipe = contr.treatment(3, base = 2)),
  treatment_base2_levels = list(recipe = contr.treatment(levels(cake$recipe), base = 2)),
  sas = list(recipe = "contr.SAS"),
  poly = list(recipe = "contr.poly"),
  temperature_treatment = list(temperature = "contr.treatment", recipe = "contr.sum"),
  matrix = list(recipe = helmert_matrix)
)

fixed_of <- function(fit) list(names = names(fixef(fit)), values = num(unname(fixef(fit))))

out <- list(lme4_version = as.character(packageVersion("lme4")), cake = list())
newcake <- data.frame(recipe = factor(c("A", "B", "C"), levels = c("A", "B", "C")),
                      temperature = factor(c("175", "205", "225"), levels = levels(cake$temperature),
                                           ordered = TRUE),
                      replicate = factor(c("1", "2", "3"), levels = levels(cake$replicate)))
for (name in names(cake_cases)) {
  fit <- lme4::lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake,
                    contrasts = cake_cases[[name]])
  out$cake[[name]] <- list(
    x_names = colnames(getME(fit, "X")),
    fixef = fixed_of(fit),
    reml = num(unname(getME(fit, "devcomp")$cmp["REML"])),
    predict = num(unname(predict(fit, newdata = newcake))),
    predict_fixed = num(unname(predict(fit, newdata = newcake, re.form = NA))))
}

fit <- lmerTest::lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake,
                      contrasts = list(recipe = "contr.sum", temperature = "contr.treatment"))
a <- anova(fit, type = 3)
out$cake_anova3 <- list(terms = rownames(a), F = num(a[["F value"]]), df_den = num(a$DenDF),
                        p = num(a[["Pr(>F)"]]))

g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = cbpp,
           contrasts = list(period = "contr.sum"))
out$cbpp_sum <- list(x_names = colnames(getME(g, "X")), fixef = fixed_of(g),
                     deviance = num(-2 * as.numeric(logLik(g))))

writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA), out_file)
