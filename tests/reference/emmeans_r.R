## Reference values for tests/estimated_means/: emmeans' estimated marginal means, their contrasts and p-value
## adjustments for lmer fits (Kenward-Roger, Satterthwaite, asymptotic df; REML and ML) and glmer fits
## (binomial, Poisson; link and response scales). Run from the repository root:
##     Rscript tests/reference/emmeans_r.R
## It writes tests/reference/emmeans_r.json. Numbers are strings with 17 significant digits, NA as "NA".
## Each case is summary(object, ...) as a data frame: its columns in order, and its printed notes.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
  library(emmeans)
})

out_file <- "tests/reference/emmeans_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))
table_of <- function(s) {
  s <- as.data.frame(s, optional = TRUE)
  notes <- attr(s, "mesg")
  s <- as.data.frame(unclass(s), optional = TRUE, check.names = FALSE)
  columns <- lapply(s, function(col) if (is.numeric(col)) num(col) else I(as.character(col)))
  list(columns = I(names(s)), values = columns, notes = I(as.character(notes)))
}
quietly <- function(expr) suppressMessages(suppressWarnings(expr))

out <- list(emmeans_version = as.character(packageVersion("emmeans")),
            lme4_version = as.character(packageVersion("lme4")))

## cake: temp as a factor (levels 175 ... 225), recipe:replicate as the random term
cake2 <- cake
cake2$temp <- factor(cake2$temp)
cake_fit <- lmer(angle ~ recipe * temp + (1 | recipe:replicate), data = cake2)
emm_by <- quietly(emmeans(cake_fit, "recipe", by = "temp"))
emm <- quietly(emmeans(cake_fit, "recipe"))
emm_temp <- quietly(emmeans(cake_fit, "temp"))
cells <- quietly(emmeans(cake_fit, ~ temp * recipe))
out$cake_kr <- quietly(list(
  emm_by = table_of(summary(emm_by)),
  pairs_by = table_of(summary(pairs(emm_by))),
  pairs_by_holm = table_of(summary(pairs(emm_by, adjust = "holm"))),
  eff_by = table_of(summary(contrast(emm_by, "eff"))),
  emm = table_of(summary(emm)),
  emm_tests = table_of(summary(emm, infer = c(TRUE, TRUE), level = 0.9)),
  pairs = table_of(summary(pairs(emm))),
  pairs_reverse = table_of(summary(pairs(emm, reverse = TRUE))),
  pairs_ci = table_of(summary(pairs(emm), infer = c(TRUE, TRUE))),
  pairs_scheffe = table_of(summary(pairs(emm, adjust = "scheffe"), infer = c(TRUE, TRUE))),
  pairs_sidak_ci = table_of(summary(pairs(emm, adjust = "sidak"), infer = c(TRUE, TRUE))),
  pairs_bonferroni_ci = table_of(summary(pairs(emm, adjust = "bonferroni"), infer = c(TRUE, TRUE))),
  revpairwise = table_of(summary(contrast(emm, "revpairwise"))),
  trt_vs_ctrl = table_of(summary(contrast(emm, "trt.vs.ctrl"), infer = c(TRUE, TRUE))),
  trt_vs_ctrlk_holm = table_of(summary(contrast(emm, "trt.vs.ctrlk", adjust = "holm"))),
  eff = table_of(summary(contrast(emm, "eff"))),
  consec_none = table_of(summary(contrast(emm, "consec", adjust = "none"))),
  consec_bonferroni = table_of(summary(contrast(emm, "consec", adjust = "bonferroni"))),
  consec_sidak = table_of(summary(contrast(emm, "consec", adjust = "sidak"))),
  emm_temp = table_of(summary(emm_temp)),
  temp_poly = table_of(summary(contrast(emm_temp, "poly"))),
  temp_eff_hochberg = table_of(summary(contrast(emm_temp, "eff", adjust = "hochberg"))),
  temp_pairs_tukey_ci = table_of(summary(pairs(emm_temp), infer = c(TRUE, TRUE))),
  ## mvt is randomised in mvtnorm (absolute error about 1e-3): the tests compare loosely
  temp_consec_mvt = table_of(summary(contrast(emm_temp, "consec"), infer = c(TRUE, TRUE))),
  temp_mean_chg_bonferroni = table_of(summary(contrast(emm_temp, "mean_chg", adjust = "bonferroni"))),
  temp_del_eff_hommel = table_of(summary(contrast(emm_temp, "del.eff", adjust = "hommel"))),
  temp_trt_vs_ctrl_ref3_BY = table_of(summary(contrast(emm_temp, "trt.vs.ctrl", ref = 3, adjust = "BY"))),
  cells = table_of(summary(cells)),
  cells_pairs = table_of(summary(pairs(cells)))
))

cake_sat_by <- quietly(emmeans(cake_fit, "recipe", by = "temp", lmer.df = "satterthwaite"))
cake_sat <- quietly(emmeans(cake_fit, "recipe", lmer.df = "satterthwaite"))
out$cake_satterthwaite <- quietly(list(
  emm_by = table_of(summary(cake_sat_by)),
  pairs_by = table_of(summary(pairs(cake_sat_by))),
  emm = table_of(summary(cake_sat)),
  pairs = table_of(summary(pairs(cake_sat)))
))
out$cake_asymptotic <- quietly(list(
  emm = table_of(summary(emmeans(cake_fit, "recipe", lmer.df = "asymptotic")))
))

## cake with the ordered factor temperature (polynomial contrasts in X; the same means)
ordered_fit <- lmer(angle ~ recipe * temperature + (1 | recipe:replicate), data = cake)
emm_ordered <- quietly(emmeans(ordered_fit, "temperature"))
out$cake_ordered <- quietly(list(
  emm = table_of(summary(emm_ordered)),
  poly = table_of(summary(contrast(emm_ordered, "poly")))
))

## cake without recipe C at 175 degrees: one interaction column is dropped, some means are not estimable
partial <- cake2[!(cake2$recipe == "C" & cake2$temp == "175"), ]
partial_fit <- quietly(lmer(angle ~ recipe * temp + (1 | recipe:replicate), data = partial))
partial_by <- quietly(emmeans(partial_fit, "recipe", by = "temp"))
out$cake_rank_deficient <- quietly(list(
  dropped = I(setdiff(colnames(model.matrix(~ recipe * temp, partial)), names(fixef(partial_fit)))),
  emm_by = table_of(summary(partial_by)),
  pairs_by = table_of(summary(pairs(partial_by))),
  emm = table_of(summary(emmeans(partial_fit, "recipe")))
))

## sleepstudy: a covariate at given values; the overall mean; REML and ML fits
sleep_fit <- lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)
sleep_emm <- quietly(emmeans(sleep_fit, ~ Days, at = list(Days = c(0, 5, 9))))
out$sleepstudy <- quietly(list(
  emm = table_of(summary(sleep_emm)),
  pairs = table_of(summary(pairs(sleep_emm))),
  consec_none = table_of(summary(contrast(sleep_emm, "consec", adjust = "none"))),
  overall = table_of(summary(emmeans(sleep_fit, ~ 1))),
  satterthwaite = table_of(summary(emmeans(sleep_fit, ~ Days, at = list(Days = c(0, 5, 9)),
                                           lmer.df = "satterthwaite")))
))

## unbalanced (days 8 and 9 only for every other subject): Kenward-Roger's adjusted covariance and df
## differ from the unadjusted covariance and Satterthwaite's df
unbalanced <- sleepstudy[sleepstudy$Days < 8 | sleepstudy$Subject %in% levels(sleepstudy$Subject)[c(TRUE, FALSE)], ]
unbalanced_fit <- lmer(Reaction ~ Days + (Days | Subject), data = unbalanced)
unbalanced_emm <- quietly(emmeans(unbalanced_fit, ~ Days, at = list(Days = c(0, 5, 9))))
out$sleepstudy_unbalanced <- quietly(list(
  kenward_roger = table_of(summary(unbalanced_emm)),
  kenward_roger_pairs = table_of(summary(pairs(unbalanced_emm))),
  satterthwaite = table_of(summary(emmeans(unbalanced_fit, ~ Days, at = list(Days = c(0, 5, 9)),
                                           lmer.df = "satterthwaite"))),
  satterthwaite_pairs = table_of(summary(pairs(emmeans(unbalanced_fit, ~ Days, at = list(Days = c(0, 5, 9)),
                                                       lmer.df = "satterthwaite"))))
))
out$cake_rank_deficient_satterthwaite <- quietly(list(
  emm_by = table_of(summary(emmeans(partial_fit, "recipe", by = "temp", lmer.df = "satterthwaite")))
))

## an ML fit: emmeans' default "kenward-roger" refits by REML inside pbkrtest::vcovAdj (its adjusted
## covariance), while the estimates are the ML fit's and Lb_ddf reads the ML fit's vcov
sleep_ml <- lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy, REML = FALSE)
at_days <- list(Days = c(0, 5, 9))
out$sleepstudy_ml <- quietly(list(
  kenward_roger = table_of(summary(emmeans(sleep_ml, ~ Days, at = at_days))),
  kenward_roger_pairs = table_of(summary(pairs(emmeans(sleep_ml, ~ Days, at = at_days)))),
  satterthwaite = table_of(summary(emmeans(sleep_ml, ~ Days, at = at_days, lmer.df = "satterthwaite"))),
  asymptotic = table_of(summary(emmeans(sleep_ml, ~ Days, at = at_days, lmer.df = "asymptotic")))
))

## a numeric covariate of two values is kept at both (cov.keep = "2"); logical and character predictors are
## factors; an offset() term is evaluated at the grid
sleep2 <- sleepstudy
sleep2$late <- as.numeric(sleep2$Days >= 5)
sleep2$odd <- as.integer(sleep2$Subject) %% 2 == 1
sleep2$shift <- ifelse(as.integer(sleep2$Subject) %% 3 == 0, "night", "day")
kept_fit <- lmer(Reaction ~ late + Days + odd * shift + offset(log(Days + 1)) + (1 | Subject), data = sleep2)
out$covariates <- quietly(list(
  late = table_of(summary(emmeans(kept_fit, "late"))),
  days = table_of(summary(emmeans(kept_fit, ~ Days, at = list(Days = c(1, 8))))),
  odd_by_shift = table_of(summary(emmeans(kept_fit, "odd", by = "shift"))),
  odd_pairs = table_of(summary(pairs(emmeans(kept_fit, "odd"))))
))

## poly(): the grid's covariate goes through the transform learned on the fitted data
poly_fit <- lmer(Reaction ~ poly(Days, 2) + (1 | Subject), data = sleepstudy)
out$sleepstudy_poly <- quietly(list(
  emm = table_of(summary(emmeans(poly_fit, ~ Days, at = list(Days = c(0, 4.5, 9))))),
  mean = table_of(summary(emmeans(poly_fit, ~ Days)))
))

## Pastes: a factor fixed effect with two crossed random terms
pastes_fit <- lmer(strength ~ cask + (1 | batch) + (1 | sample), data = Pastes)
pastes_emm <- quietly(emmeans(pastes_fit, "cask"))
out$pastes <- quietly(list(
  emm = table_of(summary(pastes_emm)),
  pairs = table_of(summary(pairs(pastes_emm)))
))

## cbpp: binomial logit; prob and odds ratios on the response scale
cbpp_fit <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp, family = binomial)
cbpp_emm <- quietly(emmeans(cbpp_fit, "period"))
out$cbpp <- quietly(list(
  emm = table_of(summary(cbpp_emm)),
  emm_response = table_of(summary(cbpp_emm, type = "response")),
  emm_response_tests = table_of(summary(cbpp_emm, type = "response", infer = c(TRUE, TRUE))),
  pairs = table_of(summary(pairs(cbpp_emm))),
  pairs_response = table_of(summary(pairs(cbpp_emm), type = "response")),
  pairs_response_ci = table_of(summary(pairs(cbpp_emm), type = "response", infer = c(TRUE, TRUE))),
  eff_response = table_of(summary(contrast(cbpp_emm, "eff"), type = "response")),
  poly_response = table_of(summary(contrast(cbpp_emm, "poly"), type = "response"))
))

## cbpp with a probit link: contrasts stay on the probit scale
probit_fit <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = cbpp,
                    family = binomial(link = "probit"))
probit_emm <- quietly(emmeans(probit_fit, "period"))
out$cbpp_probit <- quietly(list(
  emm_response = table_of(summary(probit_emm, type = "response")),
  pairs_response = table_of(summary(pairs(probit_emm), type = "response"))
))

## grouseticks: Poisson log; rates and ratios; a covariate at its mean and at given values
grouse_fit <- quietly(glmer(TICKS ~ YEAR + cHEIGHT + (1 | LOCATION), data = grouseticks, family = poisson))
grouse_emm <- quietly(emmeans(grouse_fit, "YEAR"))
out$grouseticks <- quietly(list(
  emm = table_of(summary(grouse_emm)),
  emm_response = table_of(summary(grouse_emm, type = "response")),
  pairs_response = table_of(summary(pairs(grouse_emm), type = "response")),
  trt_vs_ctrl_response = table_of(summary(contrast(grouse_emm, "trt.vs.ctrl"), type = "response")),
  height = table_of(summary(emmeans(grouse_fit, ~ cHEIGHT, at = list(cHEIGHT = c(-10, 0, 10))),
                            type = "response"))
))

## emmeans' printed summaries
out$printed <- quietly(list(
  cake_emm_by = I(capture.output(print(emm_by))),
  cake_pairs = I(capture.output(print(pairs(emm)))),
  cake_trt_vs_ctrl = I(capture.output(print(summary(contrast(emm, "trt.vs.ctrl"), infer = c(TRUE, TRUE))))),
  cake_rank_deficient_emm_by = I(capture.output(print(partial_by))),
  cbpp_pairs_response = I(capture.output(print(summary(pairs(cbpp_emm), type = "response"))))
))

## nmath's studentized range and p.adjust, which the adjustments rest on
tukey_grid <- expand.grid(q = c(0.5, 1.1, 2.5, 4, 7), nmeans = c(2, 2.5615528128088303, 3, 18),
                          df = c(2.5, 10, 77.4, 300, 1000, 6000, 30000, Inf))
quantile_grid <- expand.grid(p = c(0.9, 0.95, 0.99), nmeans = c(3, 6, 18), df = c(5, 42, Inf))
p_values <- c(0.01, 0.04, 0.03, 0.2, 0.5, 0.0001, 0.04)
out$distributions <- list(
  ptukey = list(q = num(tukey_grid$q), nmeans = num(tukey_grid$nmeans), df = num(tukey_grid$df),
                upper = num(ptukey(tukey_grid$q, tukey_grid$nmeans, tukey_grid$df, lower.tail = FALSE))),
  qtukey = list(p = num(quantile_grid$p), nmeans = num(quantile_grid$nmeans), df = num(quantile_grid$df),
                quantile = num(qtukey(quantile_grid$p, quantile_grid$nmeans, quantile_grid$df))),
  p_adjust = c(list(p = num(p_values)),
               sapply(p.adjust.methods, function(m) num(p.adjust(p_values, m)), simplify = FALSE),
               list(holm_n10 = num(p.adjust(p_values, "holm", n = 10)),
                    hommel_n10 = num(p.adjust(p_values, "hommel", n = 10))))
)

writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA), out_file)
