"""Forms: validation only, one module per kind of page, imported from that module.

`browse`: the estate lists' GET filters and search; `graph`: the graph pages' GET forms, which
parse what a view shows from (and write it back to) its URL; `sync`: the AWS sync pages' POST
forms (settings, accounts, schedule); `review`: the daily review's forms (the Changes filter,
edge review, finding decisions, suppression rules, notification settings, sensitive targets);
`what_if`: the what-if editor's changes. `common` holds the field helpers they share.

Every GET field is optional and an invalid value falls back to its default (or to no filter),
so a pasted permalink with a stale filter still opens a page rather than an error.
"""
