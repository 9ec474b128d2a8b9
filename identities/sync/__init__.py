"""Live sync from AWS.

config    the sync settings, each account's role and ExternalId, discovered accounts
runs      requesting, running and finishing account and organisation runs
guards    the per-account Redis lock, heartbeats, the reaper of runs whose worker died
schedule  the nightly organisation sync and the reaper in django-celery-beat

The pages' read side (progress, history) is `identities.queries.sync`.
"""
