## Reference values for tests/performance/: performance 0.10.2's r2_nakagawa and icc, and the pieces
## insight 0.19's get_variance gives them (the fixed, random, residual, distribution-specific and
## dispersion variances), with the warnings each call gives. Run from the repository root:
##     Rscript tests/reference/performance_r.R
## It writes tests/reference/performance_r.json. Numbers are strings with 17 significant digits, "NA"
## where R's answer is NA (or the component is absent).
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
  library(performance)
})

out_file <- "tests/reference/performance_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))

## simfeat is mixedfx's own data set: read it as mixedfx stores it
simfeat <- read.csv("src/mixedfx/datasets/data/simfeat.csv", stringsAsFactors = TRUE)
cbpp_obs <- transform(cbpp, obs = factor(seq_len(nrow(cbpp))))

## each case: the call (for the reader; the tests make the same fit) and the fit
cases <- list(
  sleepstudy_intercept = quote(lmer(Reaction ~ Days + (1 | Subject), data = sleepstudy)),
  sleepstudy_slopes = quote(lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)),
  ## insight reads VarCorr by grouping factor: only the first of two terms on Subject counts
  sleepstudy_uncorrelated = quote(lmer(Reaction ~ Days + (Days || Subject), data = sleepstudy)),
  ## a random slope the fixed part lacks: warned, and left out of the random variance
  sleepstudy_slope_not_fixed = quote(lmer(Reaction ~ 1 + (Days | Subject), data = sleepstudy)),
  penicillin_crossed = quote(lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin)),
  pastes_nested = quote(lmer(strength ~ 1 + (1 | batch / cask), data = Pastes)),
  insteval = quote(lmer(y ~ service + lectage + studage + (1 | s) + (1 | d) + (1 | dept:service),
                        data = InstEval)),
  dyestuff2_singular = quote(lmer(Yield ~ 1 + (1 | Batch), data = Dyestuff2)),
  cbpp_logit = quote(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial,
                           data = cbpp)),
  cbpp_probit = quote(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd),
                            family = binomial(link = "probit"), data = cbpp)),
  ## an observation-level term: its variance is the dispersion part of the residual variance
  cbpp_observation_level = quote(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs),
                                       family = binomial, data = cbpp_obs)),
  simfeat_cloglog_slopes = quote(glmer(cbind(succ, trials - succ) ~ x + (1 + x | g1),
                                       family = binomial(link = "cloglog"), data = simfeat)),
  verbagg_bernoulli = quote(glmer(r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), family = binomial,
                                  data = VerbAgg)),
  grouseticks_poisson = quote(glmer(TICKS ~ YEAR + cHEIGHT + (1 | LOCATION), family = poisson,
                                    data = grouseticks)),
  simfeat_poisson_offset = quote(glmer(count ~ x + offset(log(expo)) + (1 | g1), family = poisson,
                                       data = simfeat)),
  simfeat_poisson_sqrt = quote(glmer(count ~ x + (1 | g1), family = poisson(link = "sqrt"), data = simfeat)),
  grouseticks_nb = quote(glmer.nb(TICKS ~ YEAR + cHEIGHT + (1 | LOCATION), data = grouseticks)),
  simfeat_gamma_log = quote(glmer(pos ~ x + (1 | g1), family = Gamma(link = "log"), data = simfeat)),
  simfeat_gamma_inverse = quote(glmer(pos ~ x + (1 | g1), family = Gamma, data = simfeat)),
  simfeat_inverse_gaussian = quote(glmer(pos ~ x + (1 | g1), family = inverse.gaussian(link = "log"),
                                         data = simfeat)),
  simfeat_gaussian_log = quote(glmer(pos ~ x + (1 | g1), family = gaussian(link = "log"), data = simfeat))
)

## the value and the warnings of a call
with_warnings <- function(expr) {
  caught <- character(0)
  value <- withCallingHandlers(expr, warning = function(w) {
    caught <<- c(caught, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(value = value, warnings = I(caught))
}

component <- function(vars, name) if (is.null(vars[[name]])) NA else unname(vars[[name]])

run_case <- function(call) {
  fit <- suppressMessages(eval(call))
  vars <- with_warnings(insight::get_variance(fit))
  r2 <- with_warnings(r2_nakagawa(fit))
  icc_value <- with_warnings(icc(fit))
  adjusted <- if (is.data.frame(icc_value$value)) icc_value$value$ICC_adjusted else NA
  unadjusted <- if (is.data.frame(icc_value$value)) icc_value$value$ICC_unadjusted else NA
  list(call = paste(deparse(call, width.cutoff = 500L), collapse = " "),
       fixef = num(unname(fixef(fit))), theta = num(unname(getME(fit, "theta"))),
       variance = lapply(c(fixed = "var.fixed", random = "var.random", residual = "var.residual",
                           distribution = "var.distribution", dispersion = "var.dispersion"),
                         function(name) num(component(vars$value, name))),
       variance_warnings = vars$warnings,
       r2 = list(marginal = num(unname(r2$value$R2_marginal)), conditional = num(unname(r2$value$R2_conditional))),
       r2_warnings = r2$warnings,
       icc = list(adjusted = num(adjusted), unadjusted = num(unadjusted)), icc_warnings = icc_value$warnings)
}

out <- list(performance_version = as.character(packageVersion("performance")),
            insight_version = as.character(packageVersion("insight")),
            lme4_version = as.character(packageVersion("lme4")),
            cases = lapply(cases, run_case))
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA), out_file)
