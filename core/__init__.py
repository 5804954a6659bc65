"""The root every package builds on: the dataset config assembled from each package's
section (`config`), what every section is built from (`sections`), and the base errors."""
