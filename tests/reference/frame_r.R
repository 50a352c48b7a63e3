## Reference values for tests/design/test_frame_features.py (and the fit-level tests of lmer/glmer with
## subset = and na_action = "exclude"): lme4's '.' in a formula, model.frame's subset (taken before the
## NA action) and na.exclude (row-wise results padded with NA back to the input rows). Run from the
## repository root:
##     Rscript tests/reference/frame_r.R
## It writes tests/reference/frame_r.json. Numbers are strings with 17 significant digits; row numbers
## are R's (1-based) row names. "design" holds what the model frame and X determine (names, rows,
## counts); "fit" holds the numbers of the fits (fixef, criteria, fitted values, residuals).
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
})

out_file <- "tests/reference/frame_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))
rows_of <- function(x) I(as.integer(names(x)))
quiet <- function(expr) suppressWarnings(suppressMessages(expr))
out <- list(lme4_version = as.character(packageVersion("lme4")))
design <- list()
fit <- list()

## '.': every column but the response's symbols, in the data's order; the grouping factor is among them
dot <- quiet(lmer(Reaction ~ . + (1 | Subject), sleepstudy))
design$dot <- list(formula = "Reaction ~ . + (1 | Subject)", x_names = I(colnames(getME(dot, "X"))),
                   frame_names = I(names(model.frame(dot))), nobs = nobs(dot))
fit$dot <- list(fixef_names = I(names(fixef(dot))), fixef = num(unname(fixef(dot))),
                reml_criterion = num(unname(getME(dot, "devcomp")$cmp["REML"])), theta = num(getME(dot, "theta")),
                note = paste("Subject is both a fixed and a random effect: the REML criterion is flat in theta",
                             "(lme4 warns that the Hessian is singular), so fixef and the criterion are",
                             "determined and theta is not"))
## columns reordered, one more: Python builds the same frame as
## sleepstudy[["Subject", "Days", "Reaction"]].assign(DaysSq=Days ** 2)
reordered <- sleepstudy[, c("Subject", "Days", "Reaction")]
reordered$DaysSq <- reordered$Days^2
## (lme4 expands the fixed part's '.' against its model frame, so a derived frame column such as I(Days^2)
## in 'Reaction ~ . + I(Days^2) + (1 | Subject)' would come back as a column `I(Days^2)`; mixedfx's '.' is the
## data's columns, as model.frame's and lm's, so the reference avoids that case)
dot2 <- quiet(lmer(Reaction ~ . + (1 | Subject), reordered))
design$dot_reordered <- list(formula = "Reaction ~ . + (1 | Subject)",
                             x_names = I(colnames(getME(dot2, "X"))), nobs = nobs(dot2))
fit$dot_reordered <- list(fixef = num(unname(fixef(dot2))))

## subset = Days > 2, before the NA action
sub <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, subset = Days > 2)
design$subset <- list(formula = "Reaction ~ Days + (Days | Subject)", query = "Days > 2", nobs = nobs(sub),
                      rows = rows_of(fitted(sub)), x_names = I(colnames(getME(sub, "X"))))
fit$subset <- list(fixef = num(unname(fixef(sub))), nobs = nobs(sub),
                   reml_criterion = num(unname(getME(sub, "devcomp")$cmp["REML"])), theta = num(getME(sub, "theta")))
## integer positions keep their order
pos <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy, subset = c(10:100, 5))
design$subset_positions <- list(r_positions = I(c(10:100, 5L)), nobs = nobs(pos), rows = rows_of(fitted(pos)))
fit$subset_positions <- list(fixef = num(unname(fixef(pos))),
                             reml_criterion = num(unname(getME(pos, "devcomp")$cmp["REML"])))

## na.exclude: Reaction missing in rows 3, 50, 51; fitted, residuals, predict padded to 180 rows
na_rows <- c(3L, 50L, 51L)
sleep_na <- sleepstudy
sleep_na$Reaction[na_rows] <- NA
ex <- lmer(Reaction ~ Days + (Days | Subject), sleep_na, na.action = na.exclude)
design$exclude <- list(formula = "Reaction ~ Days + (Days | Subject)", na_rows = I(na_rows), nobs = nobs(ex),
                       n_input = length(fitted(ex)), rows = rows_of(fitted(ex)))
fit$exclude <- list(fixef = num(unname(fixef(ex))), fitted = num(unname(fitted(ex))),
                    residuals = num(unname(residuals(ex))), predict = num(unname(predict(ex))),
                    reml_criterion = num(unname(getME(ex, "devcomp")$cmp["REML"])))
## with a subset too: padded back to the subset's rows (126), not the data's
exs <- lmer(Reaction ~ Days + (Days | Subject), sleep_na, na.action = na.exclude, subset = Days > 2)
design$exclude_subset <- list(query = "Days > 2", nobs = nobs(exs), n_input = length(fitted(exs)),
                              rows = rows_of(fitted(exs)), na_at = I(which(is.na(fitted(exs)))))
fit$exclude_subset <- list(fixef = num(unname(fixef(exs))), fitted = num(unname(fitted(exs))),
                           residuals = num(unname(residuals(exs))))

## cbpp binomial glmer with subset = period != "4"; then with incidence missing in rows 2 and 20 and na.exclude
form_b <- cbind(incidence, size - incidence) ~ period + (1 | herd)
gb <- glmer(form_b, family = binomial, data = cbpp, subset = period != "4")
design$cbpp_subset <- list(formula = deparse(form_b), query = "period != \"4\"", nobs = nobs(gb),
                           rows = rows_of(fitted(gb)), x_names = I(colnames(getME(gb, "X"))))
fit$cbpp_subset <- list(fixef = num(unname(fixef(gb))), theta = num(getME(gb, "theta")),
                        deviance = num(deviance(gb)), fitted = num(unname(fitted(gb))),
                        residuals = num(unname(residuals(gb))))
cbpp_na <- cbpp
cbpp_na$incidence[c(2L, 20L)] <- NA
gx <- glmer(form_b, family = binomial, data = cbpp_na, subset = period != "4", na.action = na.exclude)
design$cbpp_exclude <- list(na_rows = I(c(2L, 20L)), nobs = nobs(gx), n_input = length(fitted(gx)),
                            rows = rows_of(fitted(gx)), na_at = I(which(is.na(fitted(gx)))))
fit$cbpp_exclude <- list(fixef = num(unname(fixef(gx))), theta = num(getME(gx, "theta")),
                         fitted = num(unname(fitted(gx))), residuals = num(unname(residuals(gx))),
                         residuals_response = num(unname(residuals(gx, type = "response"))),
                         predict_link = num(unname(predict(gx))))

out$design <- design
out$fit <- fit
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA), out_file)
