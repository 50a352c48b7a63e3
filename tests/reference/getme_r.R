## Reference values for tests/fits/test_getme.py: lme4's getME(fit, name) for the names mixedfx's
## get_me answers, and model.frame, model.matrix and terms of the fit. Run from the repository root:
##     Rscript tests/reference/getme_r.R
## It writes tests/reference/getme_r.json. Numbers are strings with 17 significant digits ("NA",
## "Inf", "-Inf" for the missing and the infinite); sparse matrices are 0-based triplets (i, j, x)
## with their dimensions, dense ones lists of rows.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
})

out_file <- "tests/reference/getme_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))
named <- function(x) list(names = I(names(x)), values = num(unname(x)))
dense <- function(m) list(dim = dim(m), rows = lapply(seq_len(nrow(m)), function(i) num(m[i, ])))
triplets <- function(m) {
  m <- as(as(m, "CsparseMatrix"), "TsparseMatrix")
  list(dim = dim(m), i = I(m@i), j = I(m@j), x = num(m@x))
}

sleep_w <- sleepstudy
sleep_w$w <- rep(c(1, 2), 90)
sleep_w$o <- sleep_w$Days / 10

fits <- list(
  sleepstudy = lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy),
  penicillin = lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin),
  cbpp = glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = cbpp),
  sleep_ml_weighted = lmer(Reaction ~ Days + (1 | Subject) + (0 + Days | Subject), data = sleep_w,
                           REML = FALSE, weights = w, offset = o))

describe <- function(m) {
  L <- getME(m, "L")
  dc <- getME(m, "devcomp")
  fl <- getME(m, "flist")
  mf <- model.frame(m)
  numeric_columns <- Filter(function(v) is.numeric(v), as.list(mf))
  tf <- terms(m)
  ta <- terms(m, fixed.only = FALSE)
  devfun <- getME(m, "devfun")
  at <- if (isGLMM(m)) c(getME(m, "theta"), getME(m, "beta")) else getME(m, "theta")
  list(
    X = dense(getME(m, "X")), x_names = I(colnames(getME(m, "X"))),
    Z = triplets(getME(m, "Z")), Zt = triplets(getME(m, "Zt")),
    Lambdat = triplets(getME(m, "Lambdat")), Lind = I(getME(m, "Lind")),
    L = triplets(as(L, "sparseMatrix")), L_perm = I(L@perm),
    A = triplets(getME(m, "A")),
    RX = dense(getME(m, "RX")), RZX = dense(getME(m, "RZX")),
    theta = named(getME(m, "theta")), lower = named(getME(m, "lower")),
    beta = num(getME(m, "beta")), fixef = named(getME(m, "fixef")),
    u = num(getME(m, "u")), b = num(as.vector(getME(m, "b"))),
    y = num(getME(m, "y")), mu = num(getME(m, "mu")), offset = num(getME(m, "offset")),
    weights = num(weights(m)), sigma = num(getME(m, "sigma")),
    flist = list(names = I(names(fl)), assign = I(attr(fl, "assign")),
                 levels = lapply(fl, function(f) I(levels(f))), codes = lapply(fl, function(f) I(as.integer(f) - 1L))),
    cnms = lapply(unname(getME(m, "cnms")), I), cnms_names = I(names(getME(m, "cnms"))),
    Gp = I(getME(m, "Gp")), Tp = named(getME(m, "Tp")),
    ST = lapply(unname(getME(m, "ST")), dense), Tlist = lapply(unname(getME(m, "Tlist")), dense),
    Ztlist_names = I(names(getME(m, "Ztlist"))), mmList_names = I(names(getME(m, "mmList"))),
    devcomp = list(cmp = named(dc$cmp), dims = list(names = I(names(dc$dims)), values = I(unname(dc$dims)))),
    REML = getME(m, "REML"), is_REML = getME(m, "is_REML"),
    counts = list(n_rtrms = getME(m, "n_rtrms"), n_rfacs = getME(m, "n_rfacs"), N = getME(m, "N"),
                  n = getME(m, "n"), p = getME(m, "p"), q = getME(m, "q"), k = getME(m, "k"), m = getME(m, "m")),
    p_i = named(getME(m, "p_i")), l_i = named(getME(m, "l_i")), q_i = named(getME(m, "q_i")),
    m_i = named(getME(m, "m_i")),
    devfun_at_estimates = num(devfun(at)),
    model_frame = list(names = I(names(mf)), nrow = nrow(mf),
                       classes = I(vapply(mf, function(v) class(v)[1], "")),
                       numeric = lapply(numeric_columns, function(v) if (is.matrix(v)) dense(v) else num(v))),
    model_matrix = list(fixed_names = I(colnames(model.matrix(m, "fixed"))),
                        random_dim = dim(model.matrix(m, "random")),
                        random_list_names = I(names(model.matrix(m, "randomListRaw"))),
                        random_list_columns = lapply(unname(model.matrix(m, "randomListRaw")),
                                                     function(x) I(colnames(x)))),
    terms_fixed = list(term_labels = I(attr(tf, "term.labels")), intercept = attr(tf, "intercept"),
                       response = attr(tf, "response"), variables = I(vapply(as.list(attr(tf, "variables"))[-1],
                                                                             deparse, ""))),
    terms_all = list(term_labels = I(attr(ta, "term.labels")), intercept = attr(ta, "intercept"))
  )
}

out <- list(lme4_version = as.character(packageVersion("lme4")), cases = lapply(fits, describe))
writeLines(toJSON(out, auto_unbox = TRUE, pretty = FALSE, digits = NA), out_file)
