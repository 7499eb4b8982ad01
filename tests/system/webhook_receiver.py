#!/usr/bin/env python3
"""A Standard Webhooks receiver for the system tests: listens on 127.0.0.1:PORT, verifies every
POST's signature with its own HMAC code (not quire's), and appends one JSON line per request to
LOG: webhook-id, the body's type and job, and whether signature and timestamp were valid.
Answers 204 to a valid request, 401 to an invalid one.

usage: webhook_receiver.py PORT SECRET LOG
"""
import base64
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT, SECRET, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
KEY = base64.b64decode(SECRET[len("whsec_"):]) if SECRET.startswith("whsec_") else b""


def verify(msg_id, timestamp, signatures, body):
    try:
        ts = int(timestamp)
    except ValueError:
        return False, "timestamp is not an integer"
    if abs(time.time() - ts) > 300:
        return False, "timestamp outside the 5 minute tolerance"
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(KEY, signed, hashlib.sha256).digest()).decode()
    for sig in signatures.split(" "):
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True, ""
    return False, "no matching v1 signature"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        msg_id = self.headers.get("webhook-id", "")
        ok, why = verify(msg_id, self.headers.get("webhook-timestamp", ""),
                         self.headers.get("webhook-signature", ""), body)
        entry = {"id": msg_id, "valid": ok, "why": why, "content_type": self.headers.get("Content-Type", "")}
        try:
            doc = json.loads(body)
            entry.update(type=doc.get("type"), job_id=doc.get("data", {}).get("job_id"),
                         status=doc.get("data", {}).get("status"), timestamp=doc.get("timestamp"))
        except ValueError:
            entry["type"] = None
        with open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
