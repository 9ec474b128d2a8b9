import pytest

URLS = ["/graph/identity/", "/graph/access/", "/graph/paths/", "/graph/data.json", "/graph/export.graphml", "/graph/export.svg", "/graph/suggest/", "/graph/edge/"]
JUNK = ["x", "a b", "user:", "user: x", "role:444444444444:prod ops", ":", "policy:", "inline:", "inline:user:1:2:3", "access-group:", "service:", "account:x", "*", "user:333333333333:alice\n", "%", "\x00", "user:333333333333", "role::", "federated:", "anyone", "anyone:x", "external:x"]
PARAMS = ["node", "expand", "focus", "source", "target", "depth", "account", "kinds", "view", "q", "field", "kind", "from", "via", "max_hops", "edges"]

@pytest.mark.parametrize("url", URLS)
def test_probe(logged_in_client, imported_sample, url):
    bad = []
    for p in PARAMS:

        for j in JUNK:
            for view in ("identity", "access", "paths"):
                q = {p: j, "view": view}
                if p != "focus": q["focus"] = "user:333333333333:alice"
                try:
                    r = logged_in_client.get(url, q)
                    if r.status_code >= 500: bad.append((p, j, view, r.status_code))
                except Exception as e:
                    bad.append((p, j, view, type(e).__name__, str(e)[:80]))
    assert not bad, "\n".join(map(repr, bad[:400]))
