"""The `winback` command line: one root app (`main`), one module per area."""
