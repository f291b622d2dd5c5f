"""Operators' figures from the attempts table: plain SQL on SQLite and PostgreSQL,
pure aggregation, and renderers (table, CSV, JSON, a self-contained HTML page)."""

from interceptor.reports.figures import Figures, Report, build_report
from interceptor.reports.query import GROUPINGS, ReportQuery

__all__ = ["GROUPINGS", "Figures", "Report", "ReportQuery", "build_report"]
