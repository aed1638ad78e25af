"""A real MCP client (the official Python SDK) for the runtime-guard tests.

    python mcp_client.py [--mode auto|legacy|2026-07-28] [--elicit yes,no,...] STEPS -- COMMAND ARGS...

Starts COMMAND over stdio (with this process's environment), then runs STEPS, a JSON list:
  {"list": true}                      every tools/list page, following nextCursor
  {"call": "NAME", "args": {...}}     one tools/call
  {"listen_call": "NAME", "args": {}} (2026-07-28) subscriptions/listen for toolsListChanged,
                                      then the call; waits for the change event
  {"prompts": true}                   one prompts/list
  {"prompt": "NAME", "args": {...}}   one prompts/get
Prints one JSON line per step: {"tools": [...], "pages": N, "meta": {...}} for a list,
{"prompts": [...]} for prompts/list, {"result": {...}} or {"error": {"code", "message",
"data"}} for a call or a prompts/get; then {"elicited": [...]}
with every question the client was asked. With --elicit the client declares elicitation and
answers the questions in order (yes: accept with approve=true, no: decline); without it, the
client cannot elicit.
"""

import argparse
import asyncio

import anyio
import json
import os
import sys

import mcp_types
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError


def main() -> None:
    argv = sys.argv[1:]
    split = argv.index("--")
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="auto")
    parser.add_argument("--elicit", default=None)
    parser.add_argument("steps")
    options = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    asyncio.run(run(options, json.loads(options.steps), command))


async def run(options, steps, command) -> None:
    answers = options.elicit.split(",") if options.elicit else None
    asked = []

    async def elicit(context, params):
        asked.append(params.message)
        answer = answers.pop(0) if answers else "no"
        if answer == "yes":
            return mcp_types.ElicitResult(action="accept", content={"approve": True})
        return mcp_types.ElicitResult(action="decline")

    server = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    client = Client(
        server,
        mode=options.mode,
        elicitation_callback=elicit if answers is not None else None,
        read_timeout_seconds=60,
        cache=None,
    )
    try:
        async with client:
            emit({"protocol": client.protocol_version, "instructions": client.instructions})
            for step in steps:
                if step.get("list"):
                    emit(await list_all(client))
                elif "call" in step:
                    emit(await call(client, step["call"], step.get("args", {})))
                elif step.get("prompts"):
                    emit(await list_prompts(client))
                elif "prompt" in step:
                    emit(await get_prompt(client, step["prompt"], step.get("args", {})))
                elif "listen_call" in step:
                    async with client.listen(tools_list_changed=True) as subscription:
                        outcome = await call(client, step["listen_call"], step.get("args", {}))
                        with anyio.fail_after(20):
                            event = await subscription.__anext__()
                        outcome["event"] = type(event).__name__
                        emit(outcome)
    except BaseException as error:  # the guard may stop the server: report, do not hide
        emit({"exception": repr(error)})
    emit({"elicited": asked})


async def list_all(client):
    tools, pages, cursor, meta = [], 0, None, {}
    while True:
        try:
            params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
            result = await client.session.list_tools(params=params)
        except MCPError as error:
            return {"error": error_of(error), "tools": [t["name"] for t in tools], "pages": pages}
        pages += 1
        for tool in result.tools:
            tools.append(tool.model_dump(mode="json", by_alias=True, exclude_none=True))
        cursor = result.next_cursor
        if not cursor:
            break
    for tool in tools:
        if tool.get("_meta"):
            meta[tool["name"]] = tool["_meta"]
    return {"tools": [t["name"] for t in tools], "pages": pages, "meta": meta,
            "descriptions": {t["name"]: t.get("description") for t in tools}}


async def call(client, name, args):
    try:
        result = await client.call_tool(name, args)
    except MCPError as error:
        return {"error": error_of(error)}
    return {"result": result.model_dump(mode="json", by_alias=True, exclude_none=True)}


async def list_prompts(client):
    try:
        result = await client.session.list_prompts()
    except MCPError as error:
        return {"error": error_of(error)}
    return {"prompts": [p.name for p in result.prompts]}


async def get_prompt(client, name, args):
    try:
        result = await client.session.get_prompt(name, args)
    except MCPError as error:
        return {"error": error_of(error)}
    return {"result": result.model_dump(mode="json", by_alias=True, exclude_none=True)}


def error_of(error: MCPError):
    data = error.error
    return {"code": data.code, "message": data.message, "data": data.data}


def emit(value) -> None:
    print(json.dumps(value), flush=True)


if __name__ == "__main__":
    main()
