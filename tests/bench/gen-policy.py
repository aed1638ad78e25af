#!/usr/bin/env python3
"""Writes a policy with N `[[packages]]` rules, as a fleet's allowlist might look: mostly exact
npm and PyPI names with version ranges (some pinned by digest), some scope and prefix globs, and
the one rule that allows @modelcontextprotocol/server-filesystem last (a linear scan's worst
case).

usage: gen-policy.py N PUBLIC_KEY > policy.toml
"""
import sys

n, key = int(sys.argv[1]), sys.argv[2]
out = sys.stdout
out.write(f'version = 1\nname = "fleet"\n\n[[signers]]\nid = "publisher"\npublic-key = "{key}"\n\n')
out.write('[launch]\nlaunchers = ["npx", "uvx"]\n\n')
for i in range(n - 1):
    kind = i % 10
    out.write("[[packages]]\n")
    if kind < 7:
        out.write(f'ecosystem = "npm"\nname = "@fleet-{i // 100}/server-{i}"\nversion = "^1.{i % 7}.0"\n')
        if kind == 0:
            out.write(f'digests = ["sha256:{i:064x}"]\n')
    elif kind < 9:
        out.write(f'ecosystem = "pypi"\nname = "mcp-fleet-{i}"\nversion = ">=1.{i % 5},<3"\n')
    else:
        out.write(f'ecosystem = "npm"\nname = "@fleet-glob-{i}/*"\n')
    out.write('require-any = ["publisher"]\n\n')
out.write(
    '[[packages]]\necosystem = "npm"\nname = "@modelcontextprotocol/server-filesystem"\n'
    'version = ">=2026.8.0 <2027.0.0"\nrequire-any = ["publisher"]\n'
)
