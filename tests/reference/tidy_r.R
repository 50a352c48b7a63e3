## Reference values for tests/tidy/: broom.mixed's tidy, glance and augment of lme4 and lmerTest fits
## (lme4's lmer and glmer, lmerTest's Satterthwaite and Kenward-Roger tables; Wald and profile intervals).
## Run from the repository root:
##     Rscript tests/reference/tidy_r.R
## It writes tests/reference/tidy_r.json. Numbers are strings with 17 significant digits, NA as "NA";
## each table is its column names and its columns.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
  library(lmerTest, warn.conflicts = FALSE)
  library(broom.mixed)
})

out_file <- "tests/reference/tidy_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))
text <- function(x) I(ifelse(is.na(x), "NA", as.character(x)))
table_out <- function(df) {
  df <- as.data.frame(df)
  list(columns = I(names(df)),
       values = lapply(df, function(col) if (is.matrix(col)) NULL else if (is.numeric(col)) num(col) else text(col)))
}
glance_out <- function(fit) {
  g <- as.data.frame(glance(fit))
  list(columns = I(names(g)), values = num(unlist(g[1, ])))
}
out <- list(versions = list(lme4 = as.character(packageVersion("lme4")),
                            broom.mixed = as.character(packageVersion("broom.mixed")),
                            lmerTest = as.character(packageVersion("lmerTest"))))
all_effects <- c("ran_pars", "fixed", "ran_vals", "ran_coefs")

## sleepstudy, random slopes (REML): lme4's fit, then lmerTest's
slopes <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
slopes_test <- lmerTest::lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
out$slopes <- list(
  tidy = table_out(tidy(slopes)),
  all_effects = table_out(tidy(slopes, effects = all_effects)),
  fixed_only = table_out(tidy(slopes, effects = "fixed")),
  wald = table_out(tidy(slopes, conf.int = TRUE)),
  wald_90 = table_out(tidy(slopes, conf.int = TRUE, conf.level = 0.9)),
  ran_pars_wald = table_out(tidy(slopes, effects = "ran_pars", conf.int = TRUE)),
  ran_vals_wald = table_out(tidy(slopes, effects = "ran_vals", conf.int = TRUE)),
  ran_coefs_conf = table_out(suppressWarnings(tidy(slopes, effects = "ran_coefs", conf.int = TRUE))),
  profile = table_out(suppressMessages(tidy(slopes, conf.int = TRUE, conf.method = "profile"))),
  vcov = table_out(tidy(slopes, effects = c("ran_pars", "fixed"), scales = c("vcov", NA))),
  satterthwaite = table_out(tidy(slopes_test, conf.int = TRUE)),
  kenward_roger = table_out(tidy(slopes_test, ddf.method = "Kenward-Roger", conf.int = TRUE)),
  ddf_lme4 = table_out(tidy(slopes_test, ddf.method = "lme4", conf.int = TRUE)),
  ## with lmerTest's df the fixed effects' intervals are t intervals whatever conf.method says
  satterthwaite_profile = table_out(suppressWarnings(suppressMessages(
    tidy(slopes_test, conf.int = TRUE, conf.method = "profile")))),
  glance = glance_out(slopes),
  augment = table_out(augment(slopes))
)
out$slopes_ml <- list(glance = glance_out(lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy,
                                                     REML = FALSE)))

## two terms on one grouping factor: VarCorr names the second Subject.1
uncorrelated <- lme4::lmer(Reaction ~ Days + (1 | Subject) + (0 + Days | Subject), sleepstudy)
out$uncorrelated <- list(tidy = table_out(tidy(uncorrelated, effects = all_effects)))

## a 3 x 3 covariance: only the ran_pars names and their order (lme4 does not converge cleanly here)
three <- suppressWarnings(lme4::lmer(Reaction ~ Days + (Days + I(Days^2) | Subject), sleepstudy))
out$three <- list(groups = I(tidy(three, effects = "ran_pars")$group),
                  terms = I(tidy(three, effects = "ran_pars")$term))

## Penicillin, crossed
penicillin <- lme4::lmer(diameter ~ 1 + (1 | plate) + (1 | sample), Penicillin)
out$penicillin <- list(tidy = table_out(suppressWarnings(tidy(penicillin, effects = all_effects, conf.int = TRUE,
                                             conf.level = 0.9))),
                       glance = glance_out(penicillin))

## weights and an offset
weighted_data <- transform(sleepstudy, w = 1 + Days %% 3)
weighted <- lme4::lmer(Reaction ~ Days + (Days | Subject), weighted_data, weights = w, offset = Days / 10)
out$weighted <- list(tidy = table_out(tidy(weighted)), glance = glance_out(weighted),
                     augment = table_out(augment(weighted)))

## cbpp, binomial
cbpp_fit <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = cbpp)
out$cbpp <- list(
  tidy = table_out(tidy(cbpp_fit, effects = all_effects)),
  wald = table_out(tidy(cbpp_fit, conf.int = TRUE)),
  exponentiate = table_out(tidy(cbpp_fit, conf.int = TRUE, exponentiate = TRUE)),
  glance = glance_out(cbpp_fit),
  augment = table_out(suppressWarnings(augment(cbpp_fit))),
  ## with new data broom.mixed's .fitted is predict(fit, newdata) on the link scale
  newdata_fitted = num(predict(cbpp_fit, newdata = cbpp[c(1, 20, 40), ]))
)

## cbpp, Poisson with an offset in the formula
poisson_fit <- glmer(incidence ~ period + offset(log(size)) + (1 | herd), family = poisson, data = cbpp)
out$poisson <- list(tidy = table_out(tidy(poisson_fit)), glance = glance_out(poisson_fit),
                    augment = table_out(suppressWarnings(augment(poisson_fit))))

writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA, null = "null"), out_file)
