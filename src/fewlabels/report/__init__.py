"""Human-readable reports (HTML) of a labeling run."""
