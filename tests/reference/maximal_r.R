## Reference cases for tests/conformance: lme4 fits of "maximal" models (correlated
## random intercepts and slopes for crossed subjects and items) and a quadratic
## random-slope model on sleepstudy, with lme4 1.1-31's defaults. Run from the
## repository root:
##     Rscript tests/reference/maximal_r.R
## It writes tests/conformance/cases/<case>.json for each case below, in the format of
## the other case files there (read by tests/conformance/test_reference_cases.py);
## the cases where lme4 stops before the optimum (it warns that it failed to converge)
## go to tests/reference/optima/ instead, where tests/lmm/test_optimum.py and
## tests/glmm/test_optimum.py check that mixedfx ends at or below lme4's criterion:
## numbers to 15 significant digits, `data = d` in `call` standing for the data set
## named by `dataset`.
##
## maximal_2k is src/mixedfx/datasets/data/maximal_2k.csv: the rows that
##     python3 ../shared/bench/make_data.py OUTDIR maximal_2k
## writes (56 subjects x 32 items, 2x2x2 within both, Latin square), plus a column
## z = as.integer(rt > 2180), stored in the CSV so that R and Python read the same
## values (checked below). subj and item are factors with levels in sorted order, as
## read.csv(stringsAsFactors = TRUE) makes them (src/mixedfx/datasets/data/maximal_2k.schema.json).
##
## Besides lme4's usual fields each case has `optinfo`: the criterion lme4 reached
## (REML criterion, deviance, or -2 logLik for glmer), the optimiser, its convergence
## code and messages, lme4's own convergence messages and the number of evaluations.
## `messages` holds every message and warning lme4 gave while fitting, as given: where
## lme4 warned that it failed to converge its numbers are kept anyway (a fit may then do
## better, never worse).
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
})

out_dir <- "tests/conformance/cases"
## lme4 warns that these failed to converge: mixedfx ends lower, so only the criterion is compared
early_dir <- "tests/reference/optima"
stopped_early <- c("maximal_2k_binomial", "sleepstudy_quadratic")

maximal_2k <- read.csv("src/mixedfx/datasets/data/maximal_2k.csv", stringsAsFactors = TRUE)
stopifnot(nrow(maximal_2k) == 1792, nlevels(maximal_2k$subj) == 56, nlevels(maximal_2k$item) == 32,
          identical(maximal_2k$z, as.integer(maximal_2k$rt > 2180)),
          identical(levels(maximal_2k$subj), sort(unique(as.character(maximal_2k$subj)), method = "radix")),
          identical(levels(maximal_2k$item), sort(unique(as.character(maximal_2k$item)), method = "radix")))
## sleepstudy is lme4's; mixedfx's bundled copy must hold the same values
bundled <- read.csv("src/mixedfx/datasets/data/sleepstudy.csv")
stopifnot(isTRUE(all.equal(bundled$Reaction, sleepstudy$Reaction)), isTRUE(all.equal(bundled$Days, sleepstudy$Days)),
          identical(as.character(bundled$Subject), as.character(sleepstudy$Subject)))

maximal <- "rt ~ 1 + spkr * prec * load + (1 + spkr + prec + load | subj) + (1 + spkr + prec + load | item)"
cases <- list(
  maximal_2k_reml = list(dataset = "maximal_2k", call = sprintf("lmer(%s, data = d)", maximal)),
  maximal_2k_ml = list(dataset = "maximal_2k", call = sprintf("lmer(%s, data = d, REML = FALSE)", maximal)),
  maximal_2k_uncorrelated = list(
    dataset = "maximal_2k",
    call = "lmer(rt ~ 1 + spkr * prec * load + (1 + spkr + prec + load || subj) + (1 + spkr + prec + load || item), data = d)"),
  maximal_2k_binomial = list(
    dataset = "maximal_2k",
    call = "glmer(z ~ spkr * prec * load + (1 + spkr + prec | subj) + (1 + spkr + prec | item), family = binomial, data = d)"),
  sleepstudy_quadratic = list(
    dataset = "sleepstudy",
    call = "lmer(Reaction ~ Days + I(Days^2) + (Days + I(Days^2) | Subject), data = d)")
)

## Fit the call with the data set under its own name (print() shows "Data: <name>"),
## keeping every message and warning lme4 gives.
fit_case <- function(case) {
  text <- sub("data = d", paste("data =", case$dataset), case$call, fixed = TRUE)
  messages <- character(0)
  keep <- function(cond) messages <<- c(messages, conditionMessage(cond))
  time <- system.time(fit <- withCallingHandlers(
    eval(parse(text = text)[[1]]),
    message = function(m) { keep(m); invokeRestart("muffleMessage") },
    warning = function(w) { keep(w); invokeRestart("muffleWarning") }))
  list(fit = fit, messages = messages, seconds = unname(time["elapsed"]))
}

ranef_list <- function(fit) {
  re <- ranef(fit, condVar = TRUE)
  sds <- as.data.frame(re)
  out <- list()
  for (g in names(re)) {
    values <- as.matrix(re[[g]])
    rows <- sds[sds$grpvar == g, ]
    condsd <- matrix(NA_real_, nrow(values), ncol(values))
    for (j in seq_len(ncol(values))) {
      these <- rows[rows$term == colnames(values)[j], ]
      condsd[, j] <- these$condsd[match(rownames(values), as.character(these$grp))]
    }
    out[[g]] <- list(levels = rownames(values), terms = colnames(values),
                     values = unname(values), condsd = condsd)
  }
  out
}

describe <- function(fit, messages) {
  glmm <- isGLMM(fit)
  ll <- logLik(fit)
  vc <- as.data.frame(VarCorr(fit))
  vc$var1[is.na(vc$var1)] <- ""
  vc$var2[is.na(vc$var2)] <- ""
  V <- as.matrix(vcov(fit))
  criterion <- if (glmm) -2 * as.numeric(ll) else if (isREML(fit)) REMLcrit(fit) else deviance(fit)
  res <- list(
    lme4_version = as.character(packageVersion("lme4")),
    class = class(fit)[1],
    nobs = nobs(fit),
    ngrps = as.list(ngrps(fit)),
    beta = as.list(fixef(fit)),
    se = as.list(setNames(sqrt(diag(V)), names(fixef(fit)))),
    vcov = unname(V),
    theta = as.list(getME(fit, "theta")),
    sigma = sigma(fit),
    loglik = as.numeric(ll),
    df = attr(ll, "df"),
    aic = AIC(fit),
    bic = BIC(fit),
    deviance = if (!glmm && isREML(fit)) NULL else deviance(fit),
    reml_criterion = if (!glmm && isREML(fit)) REMLcrit(fit) else NULL,
    df_resid = df.residual(fit),
    varcorr = vc[, c("grp", "var1", "var2", "vcov", "sdcor")],
    ranef = ranef_list(fit),
    singular = isSingular(fit),
    messages = messages,
    print_text = capture.output(print(fit)),
    summary_text = capture.output(print(summary(fit)))
  )
  if (glmm) res$pvalues <- as.list(coef(summary(fit))[, "Pr(>|z|)"])
  res$fitted <- unname(fitted(fit))
  res$residuals <- unname(residuals(fit, type = if (glmm) "deviance" else "response"))
  res$optinfo <- list(
    criterion_kind = if (glmm) "-2 logLik" else if (isREML(fit)) "REML criterion" else "deviance",
    criterion = criterion,
    optimizer = fit@optinfo$optimizer,
    convergence_code = fit@optinfo$conv$opt,
    optimizer_messages = I(as.character(unlist(fit@optinfo$message))),
    lme4_messages = I(as.character(unlist(fit@optinfo$conv$lme4$messages))),
    feval = fit@optinfo$feval)
  res
}

for (name in names(cases)) {
  case <- cases[[name]]
  run <- fit_case(case)
  lme4 <- describe(run$fit, run$messages)
  cat(sprintf("%s: %s %.6f (%d theta), %.1f s, optimizer %s code %s\n", name, lme4$optinfo$criterion_kind,
              lme4$optinfo$criterion, length(lme4$theta), run$seconds, paste(lme4$optinfo$optimizer, collapse = "/"),
              paste(lme4$optinfo$convergence_code, collapse = "/")))
  for (m in run$messages) cat("  lme4 said:", sub("\n$", "", m), "\n")
  entry <- list(case = name, dataset = case$dataset, call = case$call, lme4 = lme4)
  writeLines(toJSON(entry, auto_unbox = TRUE, pretty = TRUE, digits = NA, null = "null", na = "null"),
             file.path(if (name %in% stopped_early) early_dir else out_dir, paste0(name, ".json")))
}
