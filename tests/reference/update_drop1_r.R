## Reference values for tests/fits/test_update.py and tests/inference/test_drop1.py: lme4's update()
## of a formula and of arguments, lme4's drop1(test = "Chisq") (ML refits) for lmer and glmer, and
## lmerTest's drop1 F tests (Satterthwaite, Kenward-Roger). Run from the repository root:
##     Rscript tests/reference/update_drop1_r.R
## It writes tests/reference/update_drop1_r.json. Numbers are strings with 17 significant digits.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
  library(lmerTest)
})

out_file <- "tests/reference/update_drop1_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))
simfeat <- read.csv("src/mixedfx/datasets/data/simfeat.csv", stringsAsFactors = TRUE)
out <- list(lme4_version = as.character(packageVersion("lme4")),
            lmertest_version = as.character(packageVersion("lmerTest")))

fit <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)
updates <- list(
  minus_days = update(fit, . ~ . - Days),
  plus_square = update(fit, . ~ . + I(Days^2)),
  ml = update(fit, REML = FALSE),
  uncorrelated = update(fit, . ~ Days + (Days || Subject)))
out$update <- lapply(updates, function(m) list(formula = deparse(formula(m)),
                                               loglik = num(as.numeric(logLik(m))),
                                               fixef = num(unname(fixef(m)))))
g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = cbpp)
out$update_glmer <- list(formula = deparse(formula(update(g, . ~ . - period))),
                         loglik = num(as.numeric(logLik(update(g, . ~ . - period)))))

drop_table <- function(d) list(rows = rownames(d), npar = num(d$npar), aic = num(d$AIC), lrt = num(d$LRT),
                               p = num(d[["Pr(Chi)"]]), text = capture.output(print(d)))
lin <- lme4::lmer(y ~ x * f + w + (1 | g1), data = simfeat)
out$drop1_lmer <- drop_table(drop1(lin, test = "Chisq"))
bin <- glmer(cbind(succ, trials - succ) ~ x * f + w + (1 | g1), family = binomial, data = simfeat)
out$drop1_glmer <- drop_table(drop1(bin, test = "Chisq"))
lt <- lmerTest::lmer(y ~ x * f + w + (1 | g1), data = simfeat)
for (ddf in c("Satterthwaite", "Kenward-Roger")) {
  d <- drop1(lt, ddf = ddf)
  out[[paste0("drop1_", ddf)]] <- list(rows = rownames(d), f = num(d[["F value"]]), den_df = num(d$DenDF),
                                       text = capture.output(print(d)))
}
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA), out_file)
