"""The canonical tables every source is mapped onto; feature code only ever sees these."""

import ibis

EVENTS = ibis.schema(
    {
        "user_id": "string",
        "ts": "timestamp",
        "event": "string",
        "value": "float64",
        "session_id": "string",
    }
)

USERS_KEY = "user_id"
SIGNUP_TS = "signup_ts"
