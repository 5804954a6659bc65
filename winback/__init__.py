"""Command-line entry point; the logic lives in features/, training/ and serving/."""
