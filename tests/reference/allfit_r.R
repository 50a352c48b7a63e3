## Reference values for tests/inference/test_allfit.py: lme4's allFit (all seven of its
## optimisers: minqa's bobyqa, lme4's Nelder_Mead, nlminbwrap, nmkbw from dfoptim,
## optimx's L-BFGS-B, nloptr's Nelder-Mead and BOBYQA) on a linear and a generalized
## model, with each optimiser's fixed effects, log-likelihood, theta and whether it ran.
## Run from the repository root:
##     Rscript tests/reference/allfit_r.R
## It writes tests/reference/allfit_r.json. Numbers are written as strings with 17
## significant digits ("NA", "Inf", "-Inf" for the missing and the infinite).
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
})

out_file <- "tests/reference/allfit_r.json"
num <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

cases <- list(
  sleepstudy_slopes = list(
    call = "lmer(Reaction ~ Days + (Days | Subject), data = d)",
    dataset = "sleepstudy",
    fit = function() lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)),
  cbpp_binomial = list(
    call = "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = d)",
    dataset = "cbpp",
    fit = function() glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial,
                           data = cbpp))
)

## the optimisers allFit found (optimx's and dfoptim's need their packages)
available <- rownames(summary(allFit(cases[[1]]$fit(), verbose = FALSE))$fixef)

out <- list(lme4_version = as.character(packageVersion("lme4")), optimizers = available, cases = list())
for (name in names(cases)) {
  case <- cases[[name]]
  fit <- case$fit()
  all <- allFit(fit, verbose = FALSE)
  s <- summary(all)
  runs <- list()
  for (opt in names(all)) {
    ok <- isTRUE(s$which.OK[[opt]])
    run <- list(ok = ok)
    if (ok) {
      one <- all[[opt]]
      run$fixef <- as.list(setNames(num(fixef(one)), names(fixef(one))))
      run$loglik <- num(as.numeric(logLik(one)))
      run$theta <- I(num(unname(getME(one, "theta"))))
      run$messages <- I(as.character(unlist(s$msgs[[opt]])))
    }
    runs[[opt]] <- run
  }
  out$cases[[name]] <- list(
    call = case$call, dataset = case$dataset,
    fit = list(fixef = as.list(setNames(num(fixef(fit)), names(fixef(fit)))),
               se = as.list(setNames(num(sqrt(diag(as.matrix(vcov(fit))))), names(fixef(fit)))),
               loglik = num(as.numeric(logLik(fit))),
               theta = I(num(unname(getME(fit, "theta"))))),
    allfit = runs)
}
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE), out_file)
