"""The agency API's tests, one file per topic."""
