## Reference values for tests/test_families.py and tests/test_links.py, from R's own
## family objects (stats::binomial etc. and MASS::negative.binomial, which lme4's
## glmer.nb uses). Run from the repository root:
##     Rscript tests/reference/families_r.R
## It writes tests/reference/families_r.json. Numbers are written as strings with 17
## significant digits ("Inf", "-Inf", "NaN" for the non-finite), so that they
## round-trip exactly.
suppressPackageStartupMessages({
  library(jsonlite)
  library(MASS)
})

out_file <- "tests/reference/families_r.json"
num <- function(x) sprintf("%.17g", x)

## R's warnings (log of a negative number, ...) are expected on the edge values.
quiet <- function(expr) suppressWarnings(expr)

## ---- grids -------------------------------------------------------------------
eta_grid <- c(-710, -700.5, -40, -30.5, -30, -29.5, -20, -10, -8.2, -8, -5, -2, -1, -0.3,
              -1e-10, 0, 1e-10, 0.3, 0.25, 1, 2, 5, 8, 8.2, 10, 20, 29.5, 30, 30.5, 40,
              700.5, 710)
mu_unit <- c(0, 1e-300, 1e-16, 1e-12, 1e-6, 0.01, 0.2, 0.25, 0.5, 0.75, 0.9, 0.99,
             1 - 1e-6, 1 - 1e-12, 1 - 2^-53, 1)
mu_pos <- c(0, 1e-300, 1e-12, 1e-6, 0.01, 0.3, 1, 2.5, 10, 123.4, 1e6, 1e12)
mu_real <- c(-1e6, -3.2, -1, 0, 1e-8, 0.5, 1, 7.3, 1e6)

## dev.resids: every y with every mu, weights recycled
dev_grid <- function(y, mu, wt) {
  g <- expand.grid(y = y, mu = mu)
  g$wt <- rep_len(wt, nrow(g))
  g
}
count_y <- c(0, 1, 2, 3, 7, 25, 150, 1000)
count_mu <- c(1e-10, 0.05, 1, 2.7, 24, 160, 1000.5)
pos_y <- c(0, 1e-8, 0.01, 0.5, 1, 3.3, 100, 1e4)
pos_mu <- c(1e-6, 0.2, 1, 4, 90, 1e4)
wts <- c(1, 2.5, 0.5, 3)

dev_grids <- list(
  binomial = dev_grid(c(0, 0.1, 0.25, 0.5, 0.9, 1),
                      c(1e-12, 1e-6, 0.01, 0.3, 0.5, 0.8, 0.999999, 1 - 1e-12), c(1, 2.5, 0, 10)),
  poisson = dev_grid(count_y, count_mu, wts),
  Gamma = dev_grid(pos_y, pos_mu, wts),
  inverse.gaussian = dev_grid(pos_y[-1], pos_mu, wts),
  gaussian = dev_grid(c(-5, 0, 0.3, 2, 100), c(-1, 0, 0.3, 1.5, 50), wts),
  nb = dev_grid(count_y, count_mu, wts)
)
mu_grids <- list(binomial = mu_unit, poisson = mu_pos, Gamma = mu_pos, inverse.gaussian = mu_pos,
                 gaussian = mu_real, nb = mu_pos)

## aic: small data sets (y, n, mu, wt); dev is the family's deviance of the case
aic_case <- function(y, mu, wt = rep(1, length(y)), n = rep(1, length(y))) list(y = y, n = n, mu = mu, wt = wt)
trials <- c(5, 10, 3, 20, 1, 7)
succ <- c(2, 10, 0, 13, 1, 3)
aic_cases <- list(
  binomial = list(
    aic_case(c(0, 1, 1, 0, 1, 0, 0, 1), c(0.1, 0.7, 0.5, 0.3, 0.999, 1e-6, 0.2, 0.6)),
    aic_case(succ / trials, c(0.35, 0.9, 0.05, 0.62, 0.7, 0.41), wt = trials, n = trials),
    aic_case(succ / trials, c(0.35, 0.9, 0.05, 0.62, 0.7, 0.41), wt = trials * c(1, 2, 0.5, 1, 3, 1), n = trials),
    aic_case(succ / trials, c(0.35, 0.9, 0.05, 0.62, 0.7, 0.41), wt = trials),
    aic_case(c(0, 1, 0.5, 1), c(0.2, 0.6, 0.5, 0.9), wt = c(1, 0, 2, 1)),
    aic_case(c(498, 2513, 1) / c(1000, 5000, 2000), c(0.5, 0.5011, 1e-3),
             wt = c(1000, 5000, 2000), n = c(1000, 5000, 2000))),
  poisson = list(
    aic_case(c(0, 1, 3, 10, 150, 1000), c(0.5, 1.2, 2.9, 11, 148.3, 1003.7)),
    aic_case(c(0, 1, 3, 10, 150, 1000), c(0.5, 1.2, 2.9, 11, 148.3, 1003.7), wt = c(1, 2, 0.5, 0, 3, 1)),
    aic_case(c(0, 2.5, 3), c(0.5, 2, 3))),
  Gamma = list(
    aic_case(c(0.5, 1.7, 3.2, 0.9, 2.2, 4.1), c(1, 1.5, 2.5, 1.2, 2, 3.1)),
    aic_case(c(1.001, 0.999, 2.002, 1.9985, 3.0007), c(1, 1, 2, 2, 3), wt = c(1, 2, 1, 0.5, 1)),
    aic_case(c(0.01, 5, 0.2, 12, 0.03), c(1, 1, 2, 2, 3))),
  inverse.gaussian = list(
    aic_case(c(0.5, 1.7, 3.2, 0.9, 2.2, 4.1), c(1, 1.5, 2.5, 1.2, 2, 3.1)),
    aic_case(c(0.5, 1.7, 3.2, 0.9, 2.2, 4.1), c(1, 1.5, 2.5, 1.2, 2, 3.1), wt = c(1, 2, 1, 0.5, 1, 3))),
  gaussian = list(
    aic_case(c(-1.2, 0.3, 2.2, 5.1, 3.3), c(-1, 0.5, 2, 4.4, 3.5)),
    aic_case(c(-1.2, 0.3, 2.2, 5.1, 3.3), c(-1, 0.5, 2, 4.4, 3.5), wt = c(1, 2, 0.5, 1, 4))),
  nb = list(
    aic_case(c(0, 1, 3, 10, 150, 1000), c(0.5, 1.2, 2.9, 11, 148.3, 1003.7)),
    aic_case(c(0, 1, 3, 10, 150, 1000), c(0.5, 1.2, 2.9, 11, 148.3, 1003.7), wt = c(1, 2, 0.5, 0, 3, 1)))
)

## ---- families x links ------------------------------------------------------------
families <- list(
  list(key = "binomial", make = binomial, links = c("logit", "probit", "cauchit", "cloglog", "log")),
  list(key = "poisson", make = poisson, links = c("log", "identity", "sqrt")),
  list(key = "Gamma", make = Gamma, links = c("inverse", "identity", "log")),
  list(key = "inverse.gaussian", make = inverse.gaussian, links = c("1/mu^2", "inverse", "identity", "log")),
  list(key = "gaussian", make = gaussian, links = c("identity", "log", "inverse"))
)
for (theta in c(0.35, 2.05224, 47.3))
  families[[length(families) + 1]] <- list(
    key = "nb", theta = theta, links = c("log", "identity", "sqrt"),
    make = local({th <- theta; function(link) negative.binomial(th, link = link)}))

valid_vectors <- list(c(1, 2), c(-1, 2), c(0, 1), c(1, Inf), c(0.3, 0.7), c(NaN, 1))

family_entry <- function(spec, link) {
  fam <- spec$make(link)
  mu <- mu_grids[[spec$key]]
  dg <- dev_grids[[spec$key]]
  linkfun <- if (link == "logit") mu_unit else mu  # R's C logit link errors outside [0, 1]
  list(
    key = spec$key, theta = if (is.null(spec$theta)) NULL else num(spec$theta),
    family = fam$family, link = fam$link,
    mu = num(mu), variance = num(quiet(fam$variance(mu))),
    linkfun_mu = num(linkfun), linkfun = num(quiet(fam$linkfun(linkfun))),
    eta = num(eta_grid), linkinv = num(quiet(fam$linkinv(eta_grid))),
    mu_eta = num(quiet(fam$mu.eta(eta_grid))),
    valideta = sapply(valid_vectors, function(v) quiet(fam$valideta(v))),
    validmu = sapply(valid_vectors, function(v) quiet(fam$validmu(v))),
    dev_y = num(dg$y), dev_mu = num(dg$mu), dev_wt = num(dg$wt),
    dev_resids = num(quiet(fam$dev.resids(dg$y, dg$mu, dg$wt))),
    aic = lapply(aic_cases[[spec$key]], function(case) {
      dev <- sum(quiet(fam$dev.resids(case$y, case$mu, case$wt)))
      list(y = num(case$y), n = num(case$n), mu = num(case$mu), wt = num(case$wt), dev = num(dev),
           aic = num(quiet(fam$aic(case$y, case$n, case$mu, case$wt, dev))))
    })
  )
}

family_entries <- list()
for (spec in families) for (link in spec$links)
  family_entries[[length(family_entries) + 1]] <- family_entry(spec, link)

## ---- initialize -------------------------------------------------------------------
run_initialize <- function(key, fam, y, weights = rep(1, length(y))) {
  env <- new.env()
  env$y <- y; env$weights <- weights; env$nobs <- length(y); env$family <- fam
  env$etastart <- NULL; env$start <- NULL; env$mustart <- NULL
  warning_message <- NULL
  res <- tryCatch(
    withCallingHandlers(eval(fam$initialize, env), warning = function(w) {
      warning_message <<- conditionMessage(w)
      invokeRestart("muffleWarning")
    }),
    error = function(e) structure(conditionMessage(e), class = "failed"))
  case <- list(key = key, link = fam$link, theta = if (key == "nb") num(2.05224) else NULL,
               y = num(y), weights = num(weights))
  if (inherits(res, "failed")) return(c(case, list(error = unclass(res))))
  c(case, list(y_out = num(env$y), weights_out = num(env$weights), mustart = num(env$mustart),
               warning = warning_message))
}
nb <- negative.binomial(2.05224)
init_cases <- list(
  run_initialize("binomial", binomial(), c(0, 1, 1, 0)),
  run_initialize("binomial", binomial(), c(0.2, 0.5, 1, 0.4), c(5, 2, 3, 0)),
  run_initialize("binomial", binomial("probit"), c(0.5, 0.25), c(3, 1)),
  run_initialize("binomial", binomial(), c(0.3, 1.2)),
  run_initialize("binomial", binomial(), c(-0.1, 0.5)),
  run_initialize("poisson", poisson(), c(0, 3, 7)),
  run_initialize("poisson", poisson(), c(1, -1)),
  run_initialize("Gamma", Gamma(), c(0.5, 2)),
  run_initialize("Gamma", Gamma(), c(0, 1)),
  run_initialize("inverse.gaussian", inverse.gaussian(), c(0.5, 2), c(2, 1)),
  run_initialize("inverse.gaussian", inverse.gaussian(), c(-1, 2)),
  run_initialize("gaussian", gaussian(), c(-1, 0, 2)),
  run_initialize("gaussian", gaussian("log"), c(0, 1)),
  run_initialize("gaussian", gaussian("log"), c(1, 2)),
  run_initialize("gaussian", gaussian("inverse"), c(0, 1)),
  run_initialize("gaussian", gaussian("inverse"), c(-1, 2)),
  run_initialize("nb", nb, c(0, 2, 5)),
  run_initialize("nb", nb, c(-1, 2))
)

## ---- negative binomial names, logit's range error --------------------------------
thetas <- c(2.05224, 3, 0.000012345, 123456.78912, 1.23456789, 10.00004, 0.5, 7.77775)
nb_names <- lapply(thetas, function(th) list(theta = num(th), name = negative.binomial(th)$family))
logit_error <- tryCatch(binomial()$linkfun(c(0.5, 1.5)), error = function(e) conditionMessage(e))

writeLines(toJSON(list(r_version = R.version.string,
                       mass_version = as.character(packageVersion("MASS")),
                       families = family_entries, initialize = init_cases,
                       nb_names = nb_names, logit_error = logit_error),
                  auto_unbox = TRUE, null = "null", pretty = 1),
           out_file)
