#!/usr/bin/env python3
"""Detection and false-positive rates of `mcpin tools lint` on labelled tool sets.

usage: lint_corpus.py --mcpin BIN --corpus DIR [--extra FILE.jsonl]... [--details]

Each labelled case becomes a stdio MCP server (lint_corpus_server.py), is captured
with `mcpin tools capture` and linted with `mcpin tools lint --json`. A malicious
case counts as detected, and a benign tool as flagged, when the lint reports a
finding of that severity or worse on it (the tool's own findings, or the server
instructions' findings for the case). Prints one row per source, at medium and at
high.

Sources read from the development set (see its README):
  getmcpm/       attacks/ (malicious), warn/ (retrieved data that should warn),
                 benign/ (benign). A case's model-facing text is served where a
                 lint can see it: tools/list tools verbatim, initialize
                 instructions as instructions; the text of other carriers (tool
                 results, resources, prompts, sampling and elicitation requests)
                 as the description of one tool, reported as a separate source.
                 Client-to-server messages (tools/call requests) carry no server
                 text and are skipped.
  mcpsecbench/   each poisoned description appended to a neutral description
                 of the tool it targets; the empty one (indirect injection) is
                 skipped.
  livemcpbench/  every tool of every server, one server per capture (benign).

--extra FILE.jsonl adds held-out sets: one case per line,
  {"source": str, "label": "malicious" | "benign", "id": str,
   "tools": [tool, ...], "instructions": str?, "unit": "case" | "tool"?}
where unit "tool" counts each tool of a benign case on its own.
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import tempfile

SERVER = pathlib.Path(__file__).with_name("lint_corpus_server.py")
SEVERITY = {"low": 0, "medium": 1, "high": 2, "critical": 3}

# The tool each MCPSecBench prompt targets, described neutrally.
MCPSECBENCH_TARGETS = {
    "Privilege escalation": ("read_file", "Reads a file and returns its contents."),
    "Execution flow disruption": ("transfer_money", "Transfers money between the user's accounts."),
    "Resource access violation": ("read_file", "Reads a file and returns its contents."),
    "Data exfiltration": ("read_file", "Reads a file and returns its contents."),
    "Multiple tool invocation": ("buy_item", "Buys an item from the store."),
}


def case(source, label, case_id, tools, instructions=None, unit="case"):
    return {"source": source, "label": label, "id": case_id, "unit": unit,
            "spec": {"serverInfo": {"name": case_id[:60], "version": "1.0.0"},
                     "instructions": instructions, "tools": tools}}


def carrier_texts(message):
    """Model-facing text of a message that is not a tools/list or initialize answer."""
    result, params = message.get("result") or {}, message.get("params") or {}
    texts = [item.get("text") for item in result.get("content", []) + result.get("contents", [])]
    texts += [m.get("content", {}).get("text") for m in result.get("messages", []) + params.get("messages", [])]
    texts += [params.get("systemPrompt"), params.get("message")]
    return [text for text in texts if isinstance(text, str) and text.strip()]


def getmcpm_cases(root):
    labels = {"attacks": "malicious", "warn": "warn", "benign": "benign"}
    for folder, label in labels.items():
        for path in sorted((root / "getmcpm" / folder).glob("*.json")):
            fixture = json.loads(path.read_text(encoding="utf-8"))
            message, name = fixture["message"], path.stem
            result = message.get("result") or {}
            if "tools" in result:
                yield case(f"getmcpm/{folder} (tools/list)", label, name, result["tools"])
            elif "protocolVersion" in result:
                yield case(f"getmcpm/{folder} (initialize)", label, name, [], result.get("instructions"))
            elif texts := carrier_texts(message):
                tool = {"name": "case_tool", "description": "\n".join(texts),
                        "inputSchema": (message.get("params") or {}).get("requestedSchema")
                        or {"type": "object", "properties": {}}}
                yield case(f"getmcpm/{folder} (other carriers)", label, name, [tool])


def mcpsecbench_cases(root):
    attacks = json.loads((root / "mcpsecbench" / "attacks_updated.json").read_text(encoding="utf-8"))
    for attack in attacks:
        if not attack["malicious_prompt"].strip():
            continue
        name, neutral = MCPSECBENCH_TARGETS[attack["name"]]
        tool = {"name": name, "description": f"{neutral} {attack['malicious_prompt']}",
                "inputSchema": {"type": "object", "properties": {"input": {"type": "string"}}}}
        yield case("mcpsecbench", "malicious", attack["name"], [tool])


def livemcpbench_cases(root):
    entries = json.loads((root / "livemcpbench" / "tools.json").read_text(encoding="utf-8"))
    for entry in entries:
        for server_key, server in entry["tools"].items():
            yield case("livemcpbench", "benign", f"{entry['name']}/{server_key}", server["tools"], unit="tool")


def extra_cases(path):
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                item = json.loads(line)
                yield case(item["source"], item["label"], item.get("id", f"{path}:{number}"),
                           item["tools"], item.get("instructions"), item.get("unit", "case"))


def run_case(mcpin, work, index, item):
    spec = work / f"{index}.spec.json"
    spec.write_text(json.dumps(item["spec"]), encoding="utf-8")
    captured = work / f"{index}.tools.json"
    capture = subprocess.run(
        [mcpin, "tools", "capture", "--out", str(captured), "--", sys.executable, str(SERVER), str(spec)],
        capture_output=True, text=True)
    if capture.returncode != 0:
        return item, None, capture.stderr.strip().splitlines()[-1:]
    lint = subprocess.run([mcpin, "tools", "lint", "--json", "--fail-on", "critical", str(captured)],
                          capture_output=True, text=True)
    if lint.returncode not in (0, 1):
        return item, None, lint.stderr.strip().splitlines()[-1:]
    return item, json.loads(lint.stdout)["findings"], None


def units(item, findings):
    """(unit name, worst severity or -1, rules that fired) per counted unit of a case."""
    server_level = [f for f in findings if not f["location"].get("tool")]
    if item["unit"] == "case":
        return [(item["id"], findings)]
    return [(f"{item['id']}/{tool['name']}",
             server_level + [f for f in findings if f["location"].get("tool") == tool["name"]])
            for tool in item["spec"]["tools"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mcpin", required=True)
    parser.add_argument("--corpus", required=True, type=pathlib.Path)
    parser.add_argument("--extra", action="append", default=[])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--details", action="store_true",
                        help="list missed malicious cases and flagged benign tools with their findings")
    parser.add_argument("--rules", action="store_true",
                        help="also print, per rule, how many units it reports at medium or worse")
    args = parser.parse_args()

    items = [*getmcpm_cases(args.corpus), *mcpsecbench_cases(args.corpus), *livemcpbench_cases(args.corpus)]
    for extra in args.extra:
        items += list(extra_cases(extra))

    rows, errors, details, by_rule = {}, [], [], {}
    with tempfile.TemporaryDirectory(prefix="mcpin-lint-corpus.") as tmp:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(run_case, args.mcpin, pathlib.Path(tmp), i, item) for i, item in enumerate(items)]
            for future in futures:
                item, findings, error = future.result()
                row = rows.setdefault((item["source"], item["label"]), {"n": 0, "medium": 0, "high": 0})
                if findings is None:
                    errors.append(f"{item['source']} {item['id']}: {' '.join(error)}")
                    continue
                for name, found in units(item, findings):
                    worst = max((SEVERITY[f["severity"]] for f in found), default=-1)
                    row["n"] += 1
                    row["medium"] += worst >= SEVERITY["medium"]
                    row["high"] += worst >= SEVERITY["high"]
                    flagged = worst >= SEVERITY["medium"]
                    for rule in {f["rule"] for f in found if SEVERITY[f["severity"]] >= SEVERITY["medium"]}:
                        counts = by_rule.setdefault(rule, {})
                        counts[item["label"]] = counts.get(item["label"], 0) + 1
                    if (item["label"] == "benign") == flagged:
                        shown = [f"{f['severity']}[{f['rule']}] {f['excerpt']}" for f in found
                                 if SEVERITY[f["severity"]] >= SEVERITY["medium"]]
                        details.append(f"{item['label']:9} {item['source']} {name}: " + ("; ".join(shown) or "missed"))

    print(f"| source | label | units | at medium or worse | at high or worse |")
    print(f"|---|---|---|---|---|")
    totals = {}
    for (source, label), row in sorted(rows.items(), key=lambda kv: (kv[0][1] != "malicious", kv[0])):
        total = totals.setdefault(label, {"n": 0, "medium": 0, "high": 0})
        for key in total:
            total[key] += row[key]
        print(f"| {source} | {label} | {row['n']} | {cell(row, 'medium')} | {cell(row, 'high')} |")
    for label, total in sorted(totals.items()):
        print(f"| **all** | {label} | {total['n']} | {cell(total, 'medium')} | {cell(total, 'high')} |")
    if args.rules:
        labels = sorted({label for _, label in rows})
        print("\n| rule | " + " | ".join(f"{label} units" for label in labels) + " |")
        print("|---|" + "---|" * len(labels))
        for rule, counts in sorted(by_rule.items()):
            print(f"| `{rule}` | " + " | ".join(str(counts.get(label, 0)) for label in labels) + " |")
    if args.details:
        print("\n" + "\n".join(sorted(details)))
    if errors:
        print("\ncases that could not be captured or linted:\n" + "\n".join(errors), file=sys.stderr)
        return 1
    return 0


def cell(row, level):
    share = 100.0 * row[level] / row["n"] if row["n"] else 0.0
    return f"{row[level]} ({share:.1f}%)"


if __name__ == "__main__":
    sys.exit(main())
