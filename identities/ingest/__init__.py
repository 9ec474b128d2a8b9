"""Bundle -> normalised rows -> diff against the current rows -> apply in ONE transaction.

`normalise` turns a validated bundle into row dicts keyed by natural keys; `apply` writes the
difference from the tables in one transaction and records it as the run's change set;
`imports` is the entry point every source calls (files, a live sync) and records the SyncRun.
"""
