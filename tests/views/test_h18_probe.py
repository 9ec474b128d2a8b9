from collections import Counter
def test_probe(logged_in_client, imported_sample):
    data = logged_in_client.get("/graph/data/", {"view": "access"}).json()
    print("STATS", data["stats"])
    print("KINDS", Counter((e.get("kind"), e.get("outcome")) for e in data["edges"]))
