## Reference values for tests/inference/test_ranova.py and tests/inference/test_modcomp.py: lmerTest's
## ranova (reduced and removed random-effects terms), pbkrtest's KRmodcomp (Kenward-Roger F test of a
## nested model or a restriction matrix) and PBmodcomp (parametric bootstrap of the LR statistic).
## Run from the repository root:
##     Rscript tests/reference/ranova_modcomp_r.R
## It writes tests/reference/ranova_modcomp_r.json. Numbers are strings with 17 significant digits.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
})

out_file <- "tests/reference/ranova_modcomp_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))
simfeat <- read.csv("src/mixedfx/datasets/data/simfeat.csv", stringsAsFactors = TRUE)
out <- list(lmertest_version = as.character(packageVersion("lmerTest")),
            pbkrtest_version = as.character(packageVersion("pbkrtest")))

## ranova: one entry per case, with the call's formula, REML and reduce.terms
ranova_case <- function(formula, data, dataset, REML = TRUE, reduce = TRUE) {
  fit <- lmerTest::lmer(formula, data = data, REML = REML)
  r <- ranova(fit, reduce.terms = reduce)
  list(formula = deparse(formula), dataset = dataset, reml = REML, reduce_terms = reduce,
       rows = rownames(r), npar = num(r$npar), loglik = num(r$logLik), aic = num(r$AIC),
       lrt = num(r$LRT), df = num(r$Df), p = num(r[["Pr(>Chisq)"]]),
       formulae = I(unname(vapply(attr(r, "formulae"), function(f) paste(deparse(f), collapse = " "), ""))),
       text = capture.output(print(r)))
}
out$ranova <- list(
  sleep_slope = ranova_case(Reaction ~ Days + (Days | Subject), sleepstudy, "sleepstudy"),
  sleep_slope_complete = ranova_case(Reaction ~ Days + (Days | Subject), sleepstudy, "sleepstudy",
                                     reduce = FALSE),
  sleep_uncorrelated = ranova_case(Reaction ~ Days + (Days || Subject), sleepstudy, "sleepstudy"),
  sleep_uncorrelated_complete = ranova_case(Reaction ~ Days + (Days || Subject), sleepstudy, "sleepstudy",
                                            reduce = FALSE),
  sleep_intercept_reml = ranova_case(Reaction ~ Days + (1 | Subject), sleepstudy, "sleepstudy"),
  sleep_intercept_ml = ranova_case(Reaction ~ Days + (1 | Subject), sleepstudy, "sleepstudy", REML = FALSE),
  penicillin = ranova_case(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin, "Penicillin"),
  simfeat_crossed = ranova_case(y ~ x + (1 | g1) + (1 | g2), simfeat, "simfeat"),
  simfeat_crossed_complete = ranova_case(y ~ x + (1 | g1) + (1 | g2), simfeat, "simfeat", reduce = FALSE))

## KRmodcomp: the nested model, a one-row and a two-row restriction matrix
kr_result <- function(k) {
  s <- capture.output(summary(k))
  list(stat = num(k$test$stat), ndf = num(k$test$ndf), ddf = num(k$test$ddf),
       f_scaling = num(k$test$F.scaling), p = num(k$test$p.value), L = num(c(t(k$L))), L_rows = nrow(k$L),
       text = capture.output(print(k)), summary_text = s[-1])
}
large <- lme4::lmer(Reaction ~ Days + I(Days^2) + (Days | Subject), data = sleepstudy)
small <- lme4::lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)
out$kr <- list(
  model = kr_result(KRmodcomp(large, small)),
  vector = kr_result(KRmodcomp(large, c(0, 0, 1))),
  matrix = kr_result(KRmodcomp(large, rbind(c(0, 1, 0), c(0, 0, 1)))))

## PBmodcomp with nsim = 1000: an extreme LRT (Days) and a moderate one (Days^2)
pb_result <- function(p) {
  list(stat = num(p$test$stat), df = num(p$test$df), p = num(p$test$p.value), nsim = p$samples[["nsim"]],
       npos = p$samples[["npos"]], n_extreme = p$n.extreme, text = capture.output(print(p))[-1])
}
set.seed(20240611)
m1 <- lme4::lmer(Reaction ~ Days + (1 | Subject), data = sleepstudy)
m0 <- lme4::lmer(Reaction ~ 1 + (1 | Subject), data = sleepstudy)
q1 <- lme4::lmer(Reaction ~ Days + I(Days^2) + (1 | Subject), data = sleepstudy)
out$pb <- list(days = pb_result(PBmodcomp(m1, m0, nsim = 1000)),
               square = pb_result(PBmodcomp(q1, m1, nsim = 1000)))
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA), out_file)
