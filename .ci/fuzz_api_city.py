"""Sets up the small city that .ci/fuzz-api fuzzes: two associations, each with an officer
and a resident, a han, a household and a circular, all through the API (the admin exists
already, made by `kairan admin create`). Writes the two officers' credentials as a Web
Fuzzing Commons auth file and the schemathesis configuration that names them as peers."""

import json
import sys
import urllib.error
import urllib.request

BASE, WORK, ADMIN_LOGIN, PASSWORD = sys.argv[1:5]


def call(method, path, body=None, token=None, expect=(200, 201, 204)):
    request = urllib.request.Request(BASE + path, method=method)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(request, data) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    if status not in expect:
        sys.exit(f"set-up failed: {method} {path} answered {status}: {text}")
    return json.loads(text) if text else None


def login(name):
    return call("POST", "/api/v1/auth/login", {"login": name, "password": PASSWORD})["access_token"]


def register(code, name, display):
    body = {"invitation_code": code, "login": name, "password": PASSWORD, "display_name": display}
    return call("POST", "/api/v1/auth/register", body, expect=(201,))["access_token"]


admin = login(ADMIN_LOGIN)
district = call("GET", "/api/v1/districts", token=admin)["items"][0]["id"]
users = []
for tag, name in (("a", "ふざ一丁目町会"), ("b", "ふざ二丁目町会")):
    body = {"district_id": district, "name": name, "member_households": 40}
    association = call("POST", "/api/v1/associations", body, token=admin)["id"]
    invite = call("POST", f"/api/v1/associations/{association}/invitations", {"role": "chair"}, token=admin)
    officer = register(invite["code"], f"officer.{tag}@fuzz.kairan.test", f"役員{tag}")
    invite = call("POST", f"/api/v1/associations/{association}/invitations", {}, token=officer)
    register(invite["code"], f"resident.{tag}@fuzz.kairan.test", f"住民{tag}")
    han = call("POST", f"/api/v1/associations/{association}/hans", {"name": "一班"}, token=officer)["id"]
    body = {"label": f"世帯{tag}", "han_id": han, "paper": True}
    call("POST", f"/api/v1/associations/{association}/households", body, token=officer)
    body = {
        "scope": {"kind": "association", "id": association},
        "title": f"回覧{tag}",
        "body": "ふざテスト",
        "requires_confirmation": True,
    }
    call("POST", "/api/v1/posts", body, token=officer)
    users.append(
        {"name": f"officer_{tag}", "fixedHeaders": [{"name": "Authorization", "value": "Bearer " + officer}]}
    )

with open(f"{WORK}/auth.json", "w") as f:
    json.dump({"auth": users}, f)
with open(f"{WORK}/schemathesis.toml", "w") as f:
    f.write(f'[auth.wfc]\npath = "{WORK}/auth.json"\npeers = ["officer_a", "officer_b"]\n')
    # 422 is how kairan refuses a well-formed request that names a record that does not
    # exist or breaks a rule a schema cannot state (password strength, CSV content, the
    # current term year); schemathesis otherwise expects such valid-looking data accepted.
    f.write('\n[checks.positive_data_acceptance]\n')
    f.write('expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]\n')
    # An inbox cursor is opaque: one the server did not issue is unreadable (400).
    f.write('\n[[operations]]\ninclude-path = "/api/v1/me/inbox"\n')
    f.write('checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "422"]\n')
    # An attachment is told by its bytes: a body that is not the PDF, JPEG or PNG its
    # Content-Type claims is 415, whatever the schema's "binary" allows.
    f.write('\n[[operations]]\ninclude-path = "/api/v1/posts/{id}/attachments"\n')
    f.write('checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "413", "415", "422"]\n')
print("city ready: two associations, officers officer_a and officer_b")
