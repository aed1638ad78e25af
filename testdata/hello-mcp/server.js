#!/usr/bin/env node
// A minimal MCP server over stdio (newline-delimited JSON-RPC), no dependencies.
"use strict";
const readline = require("node:readline");

const tools = [
  {
    name: "hello",
    title: "Say hello",
    description: "Greets the given name.",
    inputSchema: {
      type: "object",
      properties: { name: { type: "string", description: "Who to greet" } },
      required: ["name"],
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
];

function reply(id, result) {
  process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id, result }) + "\n");
}

function fail(id, code, message) {
  process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } }) + "\n");
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let message;
  try {
    message = JSON.parse(line);
  } catch {
    return fail(null, -32700, "parse error");
  }
  if (message.id === undefined) return; // a notification
  switch (message.method) {
    case "initialize":
      return reply(message.id, {
        protocolVersion: message.params?.protocolVersion ?? "2025-06-18",
        capabilities: { tools: {} },
        serverInfo: { name: "hello-mcp", version: "0.1.0" },
      });
    case "ping":
      return reply(message.id, {});
    case "tools/list":
      return reply(message.id, { tools });
    case "tools/call": {
      const name = message.params?.arguments?.name ?? "world";
      return reply(message.id, { content: [{ type: "text", text: `Hello, ${name}!` }] });
    }
    default:
      return fail(message.id, -32601, `method not found: ${message.method}`);
  }
});
