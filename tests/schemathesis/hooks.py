"""Schemathesis hooks for scripts/schemathesis.sh.

Each hook exists because the OpenAPI document cannot say something the server rightly
enforces; none of them hides a response the document could describe. The run seeds one
contact, a second contact, a conversation, an offer, an ask and a calendar feed for its user and
passes their ids (and the API's address and the user's credentials) in the environment.

Some operations can succeed only with a secret or a state no generator can guess: the calendar
feed's token, a live refresh token, the account's password, the id of something that exists to
delete. For schema-valid cases, `before_call` supplies those, so that every operation is seen to
succeed at least once; `after_call` records every answer, and the script fails when an
operation never answered 2xx.
"""

import json
import os
import re
import urllib.request
import uuid
from collections.abc import MutableMapping

import requests
import schemathesis

API = os.environ["RAPPORT_ST_API"]
TOKEN = os.environ["RAPPORT_ST_TOKEN"]
EMAIL = os.environ["RAPPORT_ST_EMAIL"]
PASSWORD = os.environ["RAPPORT_ST_PASSWORD"]
CALLS_LOG = os.environ.get("RAPPORT_ST_CALLS_LOG")
CONTACT = os.environ["RAPPORT_ST_CONTACT_ID"]
OTHER_CONTACT = os.environ["RAPPORT_ST_OTHER_CONTACT_ID"]
CONVERSATION = os.environ["RAPPORT_ST_CONVERSATION_ID"]
OFFER = os.environ["RAPPORT_ST_OFFER_ID"]
ASK = os.environ["RAPPORT_ST_ASK_ID"]

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# An Idempotency-Key the server accepts (the pattern the document publishes, and 1–255 long).
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]([\x20-\x7e]{0,253}[\x21-\x7e])?$")
# If-Match / If-None-Match as the document publishes them (openapi::ENTITY_TAGS_PATTERN).
ENTITY_TAGS = re.compile(
    r'^[ \t]*(\*|(W/)?"[\x21\x23-\x7e]*"([ \t]*,[ \t]*(W/)?"[\x21\x23-\x7e]*")*)[ \t]*$'
)

# Rules about stored state, which JSON Schema cannot state: a contact introduced by itself, an
# introduction to the recipient, forward-only statuses, a patched thank-you date on a
# conversation whose stored status is not `sent` (the document states the rule for a create,
# and for a patch that sends the status too, with `dependentSchemas`). A schema-valid request
# rejected with only these codes is the server being right. (References are pointed at the run's own objects, passwords are
# supplied right, and keys are fresh: refusals of those would be regressions, so they are not
# excused.)
SEMANTIC_CODES = {
    "self_reference",
    "same_as_recipient",
    "invalid_transition",
    "requires_sent",
}

# Fields naming other objects, and what to point them at.
REFERENCES = {
    "contact_id": CONTACT,
    "introduced_by_id": OTHER_CONTACT,
    "introduced_contact_id": OTHER_CONTACT,
    "conversation_id": CONVERSATION,
}


# The seeded object that `GET` and `PATCH` on each `{id}` path reach.
SEEDED_PATHS = {
    "/v1/contacts/{id}": CONTACT,
    "/v1/contacts/{id}/timeline": CONTACT,
    "/v1/conversations/{id}": CONVERSATION,
    "/v1/value-offers/{id}": OFFER,
    "/v1/asks/{id}": ASK,
}


SEEDED = {CONTACT, OTHER_CONTACT, CONVERSATION, OFFER, ASK}


def _positive(case):
    meta = case.meta
    return meta is not None and not meta.generation.mode.is_negative


def _is_uuid(value):
    return isinstance(value, str) and UUID.match(value) is not None


def _api(method, path, body=None, token=TOKEN):
    """One request to the server under test, outside the run: the parsed JSON answer."""
    request = urllib.request.Request(
        API + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        data = response.read()
        return json.loads(data) if data else None


def _throwaway_user():
    """A freshly registered user: (access token, password)."""
    email = f"throwaway-{uuid.uuid4().hex}@example.com"
    password = "st-" + uuid.uuid4().hex
    _api("POST", "/v1/auth/register", {"email": email, "password": password, "display_name": "Throwaway"}, None)
    tokens = _api("POST", "/v1/auth/token", {"email": email, "password": password}, None)
    return tokens["access_token"], password


# A `DELETE` that should find something: a fresh object of the kind, made for it.
FRESH = {
    "/v1/value-offers/{id}": lambda: _api("POST", "/v1/value-offers", {"contact_id": CONTACT, "kind": "news", "title": "To delete"}),
    "/v1/asks/{id}": lambda: _api("POST", "/v1/asks", {"contact_id": CONTACT, "kind": "advice", "title": "To delete"}),
    "/v1/conversations/{id}": lambda: _api("POST", "/v1/conversations", {"occurred_at": "2026-01-05T10:00:00Z", "channel": "call", "summary": "To delete", "participant_ids": [CONTACT]}),
    "/v1/contacts/{id}": lambda: _api("POST", "/v1/contacts", {"full_name": "To delete"}),
}


class _Bearer(requests.auth.AuthBase):
    """Sends the request as another user: applied after every header, the run's included."""

    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


def _supply_secrets(case):
    """For a schema-valid case, what only the server's state can make it succeed with."""
    path, method = case.operation.path, case.method.upper()
    body = case.body
    if path == "/v1/calendar.ics" and isinstance(case.query, MutableMapping):
        # The run rotates the feed's URL too: take the current one.
        case.query["token"] = _api("POST", "/v1/me/calendar-token", {})["token"]
    elif path in ("/v1/auth/refresh", "/v1/auth/logout") and isinstance(body, MutableMapping):
        tokens = _api("POST", "/v1/auth/token", {"email": EMAIL, "password": PASSWORD}, None)
        body["refresh_token"] = tokens["refresh_token"]
    elif path == "/v1/auth/token" and isinstance(body, MutableMapping):
        body["email"] = EMAIL
        body["password"] = PASSWORD
    elif path == "/v1/me/password" and isinstance(body, MutableMapping):
        # Changed to itself: the run's access token stays valid, and so does the password.
        body["current_password"] = PASSWORD
        body["new_password"] = PASSWORD
    elif path == "/v1/me" and method == "DELETE" and isinstance(body, MutableMapping):
        # Deleting the run's own account would end the run: delete a throwaway one.
        token, password = _throwaway_user()
        body["password"] = password
        object.__setattr__(case, "_auth", _Bearer(token))
    elif method == "DELETE" and path in FRESH and _is_uuid((case.path_parameters or {}).get("id")):
        headers = {k.lower() for k in (case.headers or {})}
        if "if-match" not in headers:
            case.path_parameters["id"] = FRESH[path]()["id"]


@schemathesis.hook
def before_call(context, case, **kwargs):
    # Random UUIDs name nothing: a well-formed reference in a body is pointed at a seeded
    # object, so that generated bodies reach the code behind the reference check (references
    # that are not well-formed stay as generated, to be rejected).
    # The same for a well-formed `{id}` read or patched (deletions keep their random ids, so
    # the seeded objects survive; the stateful phase deletes what it created).
    seeded = SEEDED_PATHS.get(case.operation.path)
    path_id = (case.path_parameters or {}).get("id")
    if seeded and case.method.upper() in ("GET", "PATCH") and _is_uuid(path_id):
        case.path_parameters["id"] = seeded
    # Schemathesis reuses ids it has seen; a deletion aimed at a seeded object is sent to a
    # random id instead, so the seeded objects live through the whole run.
    if case.method.upper() == "DELETE" and path_id in SEEDED:
        case.path_parameters["id"] = str(uuid.uuid4())
    body = case.body
    if isinstance(body, MutableMapping):
        for field, target in REFERENCES.items():
            if _is_uuid(body.get(field)):
                body[field] = target
        participants = body.get("participant_ids")
        if isinstance(participants, list):
            body["participant_ids"] = [CONTACT if _is_uuid(p) else p for p in participants]
        # Registration: password strength (not one repeated character, not the email) is not
        # expressible in JSON Schema; a password the schema accepts becomes a strong one.
        if case.operation.path == "/v1/auth/register":
            password = body.get("password")
            if isinstance(password, str) and 10 <= len(password) <= 128:
                body["password"] = "st-" + uuid.uuid4().hex
    # Cursors are minted by the server and cannot be generated: a schema-valid case goes
    # without one. Negative cases keep theirs, garbage that must be refused.
    if _positive(case) and isinstance(case.query, MutableMapping):
        case.query.pop("cursor", None)
    if _positive(case):
        _supply_secrets(case)
    # An Idempotency-Key replays the first response for the same request and refuses another
    # request (422); schema-valid requests get a fresh key each. Negative cases keep their
    # headers untouched: editing them makes Schemathesis re-judge the case and lose track of
    # a header it meant to leave out.
    if _positive(case) and isinstance(case.headers, MutableMapping):
        for name in list(case.headers):
            if name.lower() == "idempotency-key" and IDEMPOTENCY_KEY.match(str(case.headers[name])):
                case.headers[name] = str(uuid.uuid4())
            # The coverage phase sends values such as `If-Match: 0` in schema-valid cases
            # although they break the published pattern: such a case goes without the header.
            if name.lower() in ("if-match", "if-none-match") and not ENTITY_TAGS.match(str(case.headers[name])):
                del case.headers[name]


# Every failure the filter drops is written here, so the script can say what was dropped.
FILTERED_LOG = os.environ.get("RAPPORT_ST_FILTERED_LOG")


def _why(case, response):
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    codes = sorted({e.get("code") for e in problem.get("errors", [])}) or [problem.get("code")]
    phase = getattr(getattr(case.meta, "phase", None), "name", "?") if case.meta else "?"
    return f"{case.method.upper()} {case.operation.path} {response.status_code} {','.join(map(str, codes))} ({phase})"


@schemathesis.hook
def after_call(context, case, response):
    if CALLS_LOG:
        with open(CALLS_LOG, "a", encoding="utf-8") as log:
            log.write(f"{case.method.upper()} {case.operation.path} {response.status_code}\n")


@schemathesis.hook
def filter_failure(context, failure, case, response):
    keep = _keep(failure, case, response)
    if not keep and FILTERED_LOG:
        with open(FILTERED_LOG, "a", encoding="utf-8") as log:
            log.write(_why(case, response) + "\n")
    return keep


def _keep(failure, case, response):
    if failure.code != "ST202":
        return True
    # A schema-valid If-Match naming a version the object is not at is meant to fail with 412:
    # that is the point of it. With `*`, or with no If-Match at all, 412 is a failure.
    if response.status_code == 412:
        headers = {k.lower(): str(v).strip() for k, v in (case.headers or {}).items()}
        return headers.get("if-match", "*") == "*"
    if response.status_code == 400:
        try:
            problem = response.json()
        except ValueError:
            return True
        # from/to spanning more than two years, or reversed: a rule across two parameters.
        if problem.get("code") == "invalid_range":
            return False
    if response.status_code == 422:
        try:
            problem = response.json()
        except ValueError:
            return True
        codes = {error.get("code") for error in problem.get("errors", [])}
        semantic = SEMANTIC_CODES if case.method.upper() == "PATCH" else SEMANTIC_CODES - {"requires_sent"}
        if codes and codes <= semantic:
            return False
    return True
