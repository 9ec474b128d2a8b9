"""The read-only JSON API (`/api/v1/`): the objects the CLI prints (`access_edges`,
`escalations`, `access_changes`, `findings`, `who_can`), read with a per-user token or a login
session. `tokens` makes and checks the tokens; `views` serves the endpoints; `pages` is the
token page of the user menu."""
