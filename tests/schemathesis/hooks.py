"""Schemathesis hooks for scripts/schemathesis.sh.

Each hook exists because the OpenAPI document cannot say something the server rightly
enforces; none of them hides a response the document could describe. The run seeds one
contact, a second contact, a conversation, an offer and an ask for its user and passes their ids in the
environment.
"""

import os
import re
import uuid

import schemathesis

CONTACT = os.environ["RAPPORT_ST_CONTACT_ID"]
OTHER_CONTACT = os.environ["RAPPORT_ST_OTHER_CONTACT_ID"]
CONVERSATION = os.environ["RAPPORT_ST_CONVERSATION_ID"]
OFFER = os.environ["RAPPORT_ST_OFFER_ID"]
ASK = os.environ["RAPPORT_ST_ASK_ID"]

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# An Idempotency-Key the server accepts: 1–255 printable ASCII characters.
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

# Rules about stored state or about several fields at once, which JSON Schema cannot state:
# references to your own objects, forward-only statuses, the current password, password
# strength, a thank-you date without the thank-you. A schema-valid request rejected with
# only these codes is the server being right.
SEMANTIC_CODES = {
    "unknown_contact",
    "unknown_conversation",
    "self_reference",
    "same_as_recipient",
    "invalid_transition",
    "requires_sent",
    "incorrect_password",
    "too_weak",
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


def _is_uuid(value):
    return isinstance(value, str) and UUID.match(value) is not None


@schemathesis.hook
def before_call(context, case, **kwargs):
    # Random UUIDs name nothing: a well-formed reference in a body is pointed at a seeded
    # object, so that generated bodies reach the code behind the reference check (references
    # that are not well-formed stay as generated, to be rejected).
    # The same for a well-formed `{id}` read or patched (deletions keep their random ids, so
    # the seeded objects survive; the stateful phase deletes what it created).
    seeded = SEEDED_PATHS.get(case.operation.path)
    if seeded and case.method.upper() in ("GET", "PATCH") and _is_uuid((case.path_parameters or {}).get("id")):
        case.path_parameters["id"] = seeded
    body = case.body
    if isinstance(body, dict):
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
    # Cursors are minted by the server and cannot be generated; the integration tests send
    # garbage cursors and expect 400 invalid_cursor.
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)
    # An Idempotency-Key replays the first response for the same request and refuses another
    # request (422); generated requests get a fresh key each, unless the key is malformed.
    if isinstance(case.headers, dict):
        for name in list(case.headers):
            if name.lower() == "idempotency-key" and IDEMPOTENCY_KEY.match(str(case.headers[name])):
                case.headers[name] = str(uuid.uuid4())


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202":
        return True
    # A schema-valid but stale If-Match is meant to fail with 412: that is the point of it.
    if response.status_code == 412:
        return False
    if response.status_code == 422:
        try:
            problem = response.json()
        except ValueError:
            return True
        if problem.get("code") == "idempotency_key_reused":
            return False
        codes = {error.get("code") for error in problem.get("errors", [])}
        if codes and codes <= SEMANTIC_CODES:
            return False
    return True
