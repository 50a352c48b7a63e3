## Reference values for tests/formula/test_transforms.py and tests/fits/test_lmer_transforms.py:
## R's poly(), scale() and the splines package's bs() and ns() on small vectors (values,
## attr(, "coefs") or the knots, predict() on new values, beyond the boundary knots too),
## and lme4 fits of sleepstudy with them in the formula, with their predictions
## on new data (which R computes with the fitted basis: the model's predvars). Run from the
## repository root:
##     Rscript tests/reference/transforms_r.R
## It writes tests/reference/transforms.json. Numbers are strings with 17 significant digits
## ("NA" for missing values); matrices are lists of rows.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
  library(splines)
})

out_file <- "tests/reference/transforms.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))
rows_of <- function(m) lapply(seq_len(nrow(m)), function(i) num(unname(m[i, ])))

## ---- the functions on vectors ------------------------------------------------
uneven <- c(0.3, 1.7, 2.2, 5, 8.9, 9.1, 12, 2.2)
at <- c(-1, 3.3, 15, 2.2)
poly_case <- function(x, degree, newx) {
  p <- poly(x, degree)
  list(x = num(x), degree = degree, values = rows_of(p),
       alpha = num(attr(p, "coefs")$alpha), norm2 = num(attr(p, "coefs")$norm2),
       newx = num(newx), predicted = rows_of(predict(p, newx)))
}
scale_case <- function(x, center, scale) {
  s <- scale(x, center = center, scale = scale)
  list(x = num(x), center = center, scale = scale, values = num(as.vector(s)),
       scaled_center = if (is.null(attr(s, "scaled:center"))) NULL else num(attr(s, "scaled:center")),
       scaled_scale = if (is.null(attr(s, "scaled:scale"))) NULL else num(attr(s, "scaled:scale")))
}
spline_case <- function(fn, x, newx, ...) {
  b <- fn(x, ...)
  list(x = num(x), args = list(...), values = rows_of(b), knots = num(unname(attr(b, "knots"))),
       boundary = num(attr(b, "Boundary.knots")), newx = num(newx),
       predicted = rows_of(suppressWarnings(predict(b, newx))))  # bs warns of values beyond the knots
}
with_na <- c(uneven, NA)
out <- list(
  lme4_version = as.character(packageVersion("lme4")),
  poly = list(
    one_to_ten = poly_case(1:10, 3, c(0, 5.5, 11)),
    uneven = poly_case(uneven, 4, at),
    uneven_degree1 = poly_case(uneven, 1, at)
  ),
  raw = list(x = num(uneven), degree = 3, values = rows_of(poly(uneven, 3, raw = TRUE))),
  scale = list(
    default = scale_case(c(1, NA, 4, 5, 2.5), TRUE, TRUE),
    no_center = scale_case(c(1, NA, 4, 5, 2.5), FALSE, TRUE),
    no_scale = scale_case(c(1, NA, 4, 5, 2.5), TRUE, FALSE),
    numbers = scale_case(c(1, NA, 4, 5, 2.5), 2, 0.5)
  ),
  splines = list(
    bs_df5 = spline_case(bs, with_na, at, df = 5),
    bs_df4_degree2 = spline_case(bs, with_na, at, df = 4, degree = 2),
    bs_intercept = spline_case(bs, with_na, at, df = 5, intercept = TRUE),
    bs_no_df = spline_case(bs, with_na, at),
    ns_df4 = spline_case(ns, with_na, at, df = 4),
    ns_intercept = spline_case(ns, with_na, at, df = 3, intercept = TRUE),
    ns_df1 = spline_case(ns, with_na, at, df = 1)
  ),
  models = list()
)

## ---- lme4 fits ----------------------------------------------------------------
sleepstudy <- read.csv("src/mixedfx/datasets/data/sleepstudy.csv")
sleepstudy$Subject <- factor(sleepstudy$Subject)
## Some responses missing: R evaluates poly() on every row, then drops these.
sleep_na <- sleepstudy
sleep_na$Reaction[c(3, 50, 51, 120, 180)] <- NA
newdata <- data.frame(Days = c(0.5, 3, 11), Subject = "308")

model_cases <- list(
  poly2 = list(formula = "Reaction ~ poly(Days, 2) + (1 | Subject)", data = "sleepstudy"),
  poly2_named = list(formula = "Reaction ~ poly(Days, degree = 2) + (1 | Subject)", data = "sleepstudy"),
  raw3 = list(formula = "Reaction ~ poly(Days, 3, raw = TRUE) + (1 | Subject)", data = "sleepstudy"),
  scale = list(formula = "Reaction ~ scale(Days) + (scale(Days) | Subject)", data = "sleepstudy"),
  scale_no_center = list(formula = "Reaction ~ scale(Days, center = FALSE) + (1 | Subject)",
                         data = "sleepstudy"),
  poly_slopes = list(formula = "Reaction ~ poly(Days, 2) + (poly(Days, 2) | Subject)", data = "sleepstudy"),
  poly2_missing = list(formula = "Reaction ~ poly(Days, 2) + (1 | Subject)", data = "sleep_na"),
  ns3 = list(formula = "Reaction ~ ns(Days, df = 3) + (1 | Subject)", data = "sleepstudy"),
  bs4 = list(formula = "Reaction ~ bs(Days, df = 4, degree = 2) + (1 | Subject)", data = "sleepstudy")
)
for (name in names(model_cases)) {
  case <- model_cases[[name]]
  d <- get(case$data)
  messages <- character(0)
  fit <- withCallingHandlers(
    lmer(as.formula(case$formula), data = d),
    warning = function(w) { messages <<- c(messages, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { messages <<- c(messages, conditionMessage(m)); invokeRestart("muffleMessage") })
  out$models[[name]] <- list(
    formula = case$formula, data = case$data, missing_rows = if (case$data == "sleep_na") c(3, 50, 51, 120, 180) else list(),
    fixef = list(names = names(fixef(fit)), values = num(unname(fixef(fit)))),
    se = num(unname(sqrt(diag(as.matrix(vcov(fit)))))),
    sigma = num(sigma(fit)), reml_criterion = num(REMLcrit(fit)), theta = num(unname(getME(fit, "theta"))),
    z_names = I(getME(fit, "cnms")$Subject),
    messages = I(messages), singular = isSingular(fit),
    newdata = list(Days = num(newdata$Days), Subject = I(newdata$Subject)),
    predict = num(unname(suppressWarnings(predict(fit, newdata = newdata)))),
    predict_fixed = num(unname(suppressWarnings(predict(fit, newdata = newdata, re.form = NA))))
  )
}
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, null = "null"), out_file)
