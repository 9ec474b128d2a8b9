"""The views: full pages, and their htmx fragments from the same URLs.

common (page or fragment, lookups, pagination, CSV) · estate (browse pages) · access (who can
assume what) · graph (graph pages, panels, exports) · sync (AWS sync, runs and change sets).
"""
