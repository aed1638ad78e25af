#!/usr/bin/env python3
"""A stdio MCP server that serves one labelled case of the lint benchmark.

usage: lint_corpus_server.py SPEC.json

SPEC is {"serverInfo": {...}, "instructions": str | null, "tools": [tool, ...]}.
It answers initialize (echoing the client's protocol version), tools/list (one
page, the tools verbatim) and ping; everything else gets "method not found".
"""
import json
import sys

with open(sys.argv[1], encoding="utf-8") as spec_file:
    SPEC = json.load(spec_file)


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    message = json.loads(line)
    method, request_id = message.get("method"), message.get("id")
    if request_id is None:
        continue
    if method == "initialize":
        result = {"protocolVersion": message["params"]["protocolVersion"],
                  "capabilities": {"tools": {}},
                  "serverInfo": SPEC.get("serverInfo") or {"name": "lint-corpus", "version": "0"}}
        if SPEC.get("instructions"):
            result["instructions"] = SPEC["instructions"]
        send({"jsonrpc": "2.0", "id": request_id, "result": result})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": request_id, "result": {"tools": SPEC.get("tools", [])}})
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": request_id, "result": {}})
    else:
        send({"jsonrpc": "2.0", "id": request_id,
              "error": {"code": -32601, "message": f"method not found: {method}"}})
