"""The web dashboard's server side (`nexus dashboard`): a read-only JSON API over gold
(DuckDB locally, Athena in production) and over the pipeline ledger (PostgreSQL, when
state.dsn is set), the sink's /status and /metrics passed through, and the built page
(dashboard/ in the repository) — one origin, loopback by default."""

from keystone_nexus.dashboard.athena import AthenaGold
from keystone_nexus.dashboard.gold import DuckDBGold, GoldSource, GoldViews, Queries
from keystone_nexus.dashboard.pipeline import Ledger, PostgresLedger
from keystone_nexus.dashboard.server import Dashboard, DashboardOptions, serve

__all__ = [
    "AthenaGold",
    "Dashboard",
    "DashboardOptions",
    "DuckDBGold",
    "GoldSource",
    "GoldViews",
    "Ledger",
    "PostgresLedger",
    "Queries",
    "serve",
]
