## Reference values for tests/test_confint.py, tests/test_profile.py and
## tests/test_bootstrap.py: lme4's profile and Wald confidence intervals (oldNames =
## FALSE) for small linear and generalized models, splines::backSpline values and
## boot's percentile interval ends. Run from the repository root:
##     Rscript tests/reference/inference_r.R
## It writes tests/reference/inference_r.json. Numbers are written as strings with 17
## significant digits ("NA", "Inf", "-Inf" for the missing and the infinite).
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
  library(splines)
})

out_file <- "tests/reference/inference_r.json"
num <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

## simfeat is mixedfx's own data set: read it as mixedfx stores it
simfeat <- read.csv("src/mixedfx/datasets/data/simfeat.csv", stringsAsFactors = TRUE)

cases <- list(
  cbpp_binomial = list(
    call = "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = d)",
    dataset = "cbpp", data = cbpp,
    fit = function(d) glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial,
                            data = d)),
  simfeat_cloglog_slopes = list(
    call = "glmer(cbind(succ, trials - succ) ~ x + (1 + x | g1), family = binomial(link = \"cloglog\"), data = d)",
    dataset = "simfeat", data = simfeat,
    fit = function(d) glmer(cbind(succ, trials - succ) ~ x + (1 + x | g1), family = binomial(link = "cloglog"),
                            data = d)),
  dyestuff2_singular = list(
    call = "lmer(Yield ~ 1 + (1 | Batch), data = d)",
    dataset = "Dyestuff2", data = Dyestuff2,
    fit = function(d) lmer(Yield ~ 1 + (1 | Batch), data = d)),
  sleepstudy_uncorrelated = list(
    call = "lmer(Reaction ~ Days + (Days || Subject), data = d)",
    dataset = "sleepstudy", data = sleepstudy,
    fit = function(d) lmer(Reaction ~ Days + (Days || Subject), data = d)),
  penicillin_crossed = list(
    call = "lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = d)",
    dataset = "Penicillin", data = Penicillin,
    fit = function(d) lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = d))
)

interval <- function(ci) list(rows = rownames(ci), lower = num(ci[, 1]), upper = num(ci[, 2]))

out <- list(lme4_version = as.character(packageVersion("lme4")), cases = list())
for (name in names(cases)) {
  case <- cases[[name]]
  fit <- case$fit(case$data)
  entry <- list(call = case$call, dataset = case$dataset,
                confint_profile = interval(suppressMessages(confint(fit, oldNames = FALSE))),
                confint_wald = interval(confint(fit, method = "Wald", oldNames = FALSE)))
  out$cases[[name]] <- entry
}

## splines::backSpline(interpSpline(zeta ~ x)), as confint.thpr uses it
spline_case <- function(x, zeta, at) {
  b <- backSpline(interpSpline(zeta ~ x))
  list(x = num(x), zeta = num(zeta), at = num(at), value = num(predict(b, at)$y))
}
out$splines <- list(
  spline_case(c(0, 0.5, 1.2, 2, 3.1), c(-2, -0.9, 0.1, 1.3, 2.5), c(-1.96, 1.96, 0, -2, 2.5, -0.9, 3, 1)),
  spline_case(c(0, 0.1, 0.3, 0.6, 1, 1.5), c(-3, -2.95, -1, 0, 0.2, 2.1), c(-2.99, -1.96, 0.1, 1.96)),
  spline_case(c(-1, 0, 0.4, 2), c(-2.5, -0.3, 0.2, 3), c(-1.96, 1.96))
)

## boot's percentile interval ends (norm.inter), as confint(<bootMer>) uses them
percentile_case <- function(t, level) {
  alpha <- (1 + c(-level, level)) / 2
  list(t = num(t), level = level, ends = num(suppressWarnings(boot:::norm.inter(t, alpha))[, 2]))
}
out$percentiles <- list(
  percentile_case(((1:57) * 7) %% 23 + sqrt(1:57), 0.95),
  percentile_case(((1:199) * 11) %% 37 - log(1:199), 0.95),
  percentile_case(((1:60) * 5) %% 17 + (1:60) / 100, 0.9),
  percentile_case(c(3.5, 1.25, 9, 4, 7.75, 2), 0.95)
)
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE), out_file)
