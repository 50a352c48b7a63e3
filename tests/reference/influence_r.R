## Reference values for tests/inference/test_influence.py, test_re_pca.py and test_lm_list.py: lme4's
## hatvalues, cooks.distance and influence (by grouping factor and by observation, with dfbeta, dfbetas
## and cooks.distance of the result), rePCA, and lmList's coef and confint. Run from the repository root:
##     Rscript tests/reference/influence_r.R
## It writes tests/reference/influence_r.json. Numbers are strings with 17 significant digits.
suppressPackageStartupMessages({
  library(jsonlite)
  library(lme4)
})

out_file <- "tests/reference/influence_r.json"
num <- function(x) I(ifelse(is.na(x), "NA", sprintf("%.17g", x)))
rows <- function(m) lapply(seq_len(nrow(m)), function(i) num(unname(m[i, ])))
out <- list(lme4_version = as.character(packageVersion("lme4")))

influence_list <- function(inf) {
  fixed_sub <- inf[[2]]
  vc_sub <- inf[[4]]
  list(names = names(inf), deleted = as.character(inf$deleted), groups = inf$groups,
       fixed_effects = num(unname(inf[[1]])), fixed_names = names(inf[[1]]),
       fixed_deleted = rows(fixed_sub),
       var_cov_comps = num(unname(inf[[3]])), var_cov_names = names(inf[[3]]),
       var_cov_deleted = rows(vc_sub),
       vcov = rows(inf[[5]]), vcov_deleted = lapply(inf[[6]], function(v) num(as.vector(v))),
       converged = unname(inf$converged),
       dfbeta = rows(dfbeta(inf)), dfbeta_var_cov = rows(dfbeta(inf, which = "var.cov")),
       ## dfbetas.influence.merMod fails for a single fixed effect (its vapply returns a vector)
       dfbetas = tryCatch(rows(dfbetas(inf)), error = function(e) NULL), cooks = num(unname(cooks.distance(inf))))
}

slopes <- lmer(Reaction ~ Days + (Days | Subject), data = sleepstudy)
out$slopes <- list(hat = num(unname(hatvalues(slopes))), cooks = num(unname(cooks.distance(slopes))),
                   influence = influence_list(influence(slopes, groups = "Subject")))

first60 <- sleepstudy[1:60, ]
intercepts <- lmer(Reaction ~ Days + (1 | Subject), data = first60)
out$cases <- list(hat = num(unname(hatvalues(intercepts))), cooks = num(unname(cooks.distance(intercepts))),
                  influence = influence_list(influence(intercepts)))

cbpp_fit <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial, data = cbpp)
out$cbpp <- suppressWarnings(list(hat = num(unname(hatvalues(cbpp_fit))),
                                  cooks = num(unname(cooks.distance(cbpp_fit)))))

penicillin <- lmer(diameter ~ 1 + (1 | plate) + (1 | sample), data = Penicillin)
out$penicillin <- list(influence = influence_list(influence(penicillin, groups = "sample")))

pca_list <- function(fit) {
  p <- rePCA(fit)
  s <- summary(p)
  lapply(names(p), function(g) list(group = g, sdev = num(p[[g]]$sdev), rotation = num(as.vector(p[[g]]$rotation)),
                                     importance = rows(s[[g]]$importance)))
}
uncorrelated <- lmer(Reaction ~ Days + (Days || Subject), data = sleepstudy)
out$re_pca <- list(slopes = pca_list(slopes), penicillin = pca_list(penicillin),
                   uncorrelated = pca_list(uncorrelated))

lml <- lmList(Reaction ~ Days | Subject, sleepstudy)
co <- coef(lml)
## lme4 1.1-31's confint of an lmList reads the pool setting as object$pool, which is NULL for the
## lmList4 object (the setting is its attribute), so without pool = it gives each group's own intervals.
ci_pooled <- confint(lml, pool = TRUE)
ci_separate <- confint(lml, pool = FALSE)
ci_rows <- function(ci) lapply(dimnames(ci)[[1]], function(g) num(as.vector(ci[g, , ])))
out$lm_list <- list(groups = rownames(co), names = colnames(co), coef = rows(as.matrix(co)),
                    sigma = num(sigma(lml)), df = num(attr(lme4:::pooledSD(lml), "df")),
                    confint_bounds = dimnames(ci_pooled)[[2]],
                    confint_pooled = ci_rows(ci_pooled), confint_separate = ci_rows(ci_separate),
                    confint_default = ci_rows(confint(lml)),
                    confint_90 = ci_rows(confint(lml, level = 0.9, pool = TRUE)))
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA), out_file)
