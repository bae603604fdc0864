# Exports seven mlbench 2.1-3 tables (Debian: apt-get install r-cran-mlbench) to CSV for unseen_sets.py --mlbench DIR:
# rows with a missing value dropped, factors as numbers (y / n votes as 1 / 0), the class in the last column.
# Usage: Rscript samples/AnomalyBenchmark/analysis/mlbench_export.R DIR
library(mlbench)
out <- commandArgs(trailingOnly = TRUE)[1]
dir.create(out, showWarnings = FALSE, recursive = TRUE)
export <- function(name, table, class) {
  data(list = table)
  d <- get(table)
  d <- d[complete.cases(d), ]
  y <- as.character(d[[class]])
  d[[class]] <- NULL
  d$Id <- NULL
  for (c in names(d)) {
    v <- d[[c]]
    d[[c]] <- if (is.factor(v) && all(levels(v) %in% c("n", "y"))) as.numeric(v == "y") else as.numeric(as.character(v))
  }
  d$Class <- y
  write.csv(d, file.path(out, paste0(name, ".csv")), row.names = FALSE)
  cat(name, nrow(d), "rows,", ncol(d) - 1, "features\n")
}
export("sonar", "Sonar", "Class")
export("glass", "Glass", "Type")
export("letter", "LetterRecognition", "lettr")
export("vowel", "Vowel", "Class")
export("wbc", "BreastCancer", "Class")
export("votes", "HouseVotes84", "Class")
export("dna", "DNA", "Class")
