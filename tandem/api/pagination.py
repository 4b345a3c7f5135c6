"""Stable cursors: ordered by primary key, no COUNT, so paging costs the same at any depth."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class StableCursorPagination(CursorPagination):
    ordering = "pk"
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 500
