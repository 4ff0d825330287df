"""Statistical models of customer behaviour: plain Python, no Dagster, tested on published results."""
