"""Peer support's acceptance tests, one file per topic."""

# tests.authz loads tests.authz_support, which imports tests.authz back: importing it first
# lets the files here import tests.authz_support on its own.
import tests.authz  # noqa: F401
