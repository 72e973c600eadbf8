#!/usr/bin/python3
"""A stand-in HTTP SMS provider for the register module's http gateway test.

Usage: sms_http_server.py PORT RECORD_FILE
Appends one JSON line per POST (arrival time in seconds on the monotonic
clock, path, body, some headers) to RECORD_FILE and answers by path: /fail -> 500, /slow -> 200 after 3 s, anything else -> 200.
"""
import http.server
import json
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        arrived = time.monotonic()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        with open(sys.argv[2], "a", encoding="utf-8") as record:
            record.write(json.dumps({
                "time": arrived,
                "path": self.path,
                "body": body,
                "content_type": self.headers.get("Content-Type"),
                "authorization": self.headers.get("Authorization"),
                "x_number": self.headers.get("X-Number"),
            }) + "\n")
        if self.path == "/slow":
            time.sleep(3)
        self.send_response(500 if self.path == "/fail" else 200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
