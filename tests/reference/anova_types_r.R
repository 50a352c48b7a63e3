## Reference values for tests/inference/test_anova_types.py: lmerTest's anova(fit, type = 1, 2, 3)
## (Satterthwaite and Kenward-Roger) and car's Anova(fit, type = 2, 3) Wald chi-square tests, on
## designs where the types differ (a numeric covariate crossed with a factor, unbalanced), and
## lme4's anova(m0, m1, refit = FALSE). Run from the repository root:
##     Rscript tests/reference/anova_types_r.R
## It writes tests/reference/anova_types_r.json. Numbers are strings with 17 significant digits.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
  library(lmerTest)
  library(car)
})

out_file <- "tests/reference/anova_types_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))
simfeat <- read.csv("src/mixedfx/datasets/data/simfeat.csv", stringsAsFactors = TRUE)

f_table <- function(a) list(terms = rownames(a), sum_sq = num(a[["Sum Sq"]]), num_df = num(a$NumDF),
                            den_df = num(a$DenDF), f = num(a[["F value"]]), p = num(a[["Pr(>F)"]]),
                            heading = attr(a, "heading"))
chisq_table <- function(a) list(terms = rownames(a), chisq = num(a$Chisq), df = num(a$Df),
                                p = num(a[["Pr(>Chisq)"]]), text = capture.output(print(a)))

out <- list(lme4_version = as.character(packageVersion("lme4")),
            lmertest_version = as.character(packageVersion("lmerTest")),
            car_version = as.character(packageVersion("car")))

lin <- lmerTest::lmer(y ~ x * f + (1 | g1) + (1 | g2), data = simfeat)
for (type in 1:3) {
  out[[sprintf("simfeat_type%d", type)]] <- f_table(anova(lin, type = type))
  out[[sprintf("simfeat_type%d_kr", type)]] <- f_table(anova(lin, type = type, ddf = "Kenward-Roger"))
}
out$simfeat_text_type2 <- capture.output(print(anova(lin, type = 2)))

gl <- glmer(cbind(succ, trials - succ) ~ x * f + (1 | g1), family = binomial, data = simfeat)
out$glmer_type2 <- chisq_table(Anova(gl, type = 2))
out$glmer_type3 <- chisq_table(Anova(gl, type = 3))
cb <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = cbpp)
out$cbpp_type2 <- chisq_table(Anova(cb, type = 2))

m0 <- lme4::lmer(Reaction ~ 1 + (Days | Subject), data = sleepstudy)
m1 <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)
a <- anova(m0, m1, refit = FALSE)
out$refit_false <- list(loglik = num(a$logLik), aic = num(a$AIC), chisq = num(a$Chisq))

writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA), out_file)
