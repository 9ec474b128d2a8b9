"""Live sync from AWS.

config          the sync settings, each account's role and ExternalId, discovered accounts, and
                the heartbeat timeouts
runs            requesting and running account and organisation runs (throttled accounts are
                tried again later in the same run)
finish          closing an organisation run from its account runs; what a run applied
guards          the per-account Redis lock, heartbeats, the reaper of runs whose worker died
analysis_queue  single-flight analysis: one running, one pending; reaping dead analyses
schedule        the nightly organisation sync and the reaper in django-celery-beat

The pages' read side (progress, history) is `identities.queries.sync`.
"""
