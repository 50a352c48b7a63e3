## Reference values for tests/fits/test_printing_options.py and tests/test_modular.py: lme4's
## printed summary with print.summary.merMod's arguments, print(VarCorr(fit), comp, digits), and
## coef() where a random effect has no fixed counterpart, and glmer with nAGQ up to 100. Run from the
## repository root:
##     Rscript tests/reference/parity_r.R
## It writes tests/reference/parity_r.json. Numbers are strings with 17 significant digits.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
})

out_file <- "tests/reference/parity_r.json"
num <- function(x) I(sprintf("%.17g", x))
text_of <- function(x, ...) capture.output(print(x, ...))

fit <- lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)
gfit <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = cbpp)
out <- list(lme4_version = as.character(packageVersion("lme4")))
out$summary <- list(
  digits5_nocor = text_of(summary(fit), digits = 5, correlation = FALSE),
  std_only = text_of(summary(fit), ranef.comp = "Std.Dev.", show.resids = FALSE),
  glmer_digits3 = text_of(summary(gfit), digits = 3),
  glmer_cor_false = text_of(summary(gfit), correlation = FALSE))
out$varcorr <- list(
  default = text_of(VarCorr(fit)),
  variance = text_of(VarCorr(fit), comp = "Variance"),
  both_digits3 = text_of(VarCorr(fit), comp = c("Variance", "Std.Dev."), digits = 3),
  glmer = text_of(VarCorr(gfit)))

sleep2 <- sleepstudy
sleep2$g <- factor(rep(1:9, 20))
coef_case <- function(m) lapply(coef(m), function(x) list(rows = rownames(x), columns = colnames(x),
                                                        values = num(as.matrix(x))))
out$coef <- list(
  no_intercept = coef_case(lmer(Reaction ~ 0 + Days + (1 | Subject), data = sleepstudy)),
  random_only_slope = coef_case(lmer(Reaction ~ 1 + (1 | Subject) + (0 + Days | g), data = sleep2)))
out$nagq <- lapply(c(`50` = 50, `100` = 100), function(n) {
  g <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = cbpp, nAGQ = n)
  list(deviance = num(-2 * as.numeric(logLik(g))), fixef = num(unname(fixef(g))), theta = num(unname(getME(g, "theta"))))
})
sl <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, start = list(theta = c(0.5, 0, 0.5)))
gs <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = cbpp,
            start = list(theta = 0.5, fixef = c(-1, -1, -1, -1)))
out$start <- list(lmer = list(fixef = num(unname(fixef(sl))), reml = num(REMLcrit(sl))),
                  glmer = list(fixef = num(unname(fixef(gs))), deviance = num(-2 * as.numeric(logLik(gs)))))
out$vcov_rx <- num(as.matrix(vcov(gfit, use.hessian = FALSE)))
out$residuals_scaled <- list(lmer = num(unname(residuals(fit, scaled = TRUE))),
                             glmer = num(unname(residuals(gfit, scaled = TRUE))))
nd <- data.frame(Days = c(1, 5, 9), Subject = c("308", "309", "372"))
un <- lmer(Reaction ~ Days + (Days || Subject), sleepstudy)
out$re_form <- list(
  intercept_part = num(unname(predict(fit, nd, re.form = ~(1 | Subject)))),
  slope_part = num(unname(predict(fit, nd, re.form = ~(0 + Days | Subject)))),
  intercept_part_fitted = num(unname(predict(fit, re.form = ~(1 | Subject)))),
  uncorrelated_slope = num(unname(predict(un, nd, re.form = ~(0 + Days | Subject)))))
out$verbose <- I(capture.output(lmer(Yield ~ 1 + (1 | Batch), Dyestuff, verbose = 1), type = "output")[1:12])
warnings_of <- function(expr) {
  said <- character()
  withCallingHandlers(expr, warning = function(w) {
    said <<- c(said, conditionMessage(w))
    invokeRestart("muffleWarning")
  }, message = function(m) {
    said <<- c(said, trimws(conditionMessage(m)))
    invokeRestart("muffleMessage")
  })
  I(said)
}
error_of <- function(expr) tryCatch({ expr; "" }, error = function(e) conditionMessage(e))
big <- transform(sleepstudy, DaysBig = Days * 1e4)
out$checks <- list(
  scale_warning = warnings_of(lmer(Reaction ~ DaysBig + (1 | Subject), big)),
  scale_quiet = warnings_of(lmer(Reaction ~ Days + (1 | Subject), sleepstudy)),
  scale_ignored = warnings_of(lmer(Reaction ~ DaysBig + (1 | Subject), big,
                                   control = lmerControl(check.scaleX = "ignore"))),
  scale_stop = error_of(lmer(Reaction ~ DaysBig + (1 | Subject), big, control = lmerControl(check.scaleX = "stop"))),
  singular_message = warnings_of(lmer(Yield ~ 1 + (1 | Batch), Dyestuff2)),
  singular_ignored = warnings_of(lmer(Yield ~ 1 + (1 | Batch), Dyestuff2,
                                      control = lmerControl(check.conv.singular = "ignore"))),
  singular_stop = error_of(lmer(Yield ~ 1 + (1 | Batch), Dyestuff2,
                                control = lmerControl(check.conv.singular = "stop"))),
  grad_stop = error_of(lmer(Reaction ~ Days + (Days | Subject), sleepstudy,
                            control = lmerControl(check.conv.grad = .makeCC("stop", tol = 1e-12)))))
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA), out_file)
