#!/usr/bin/python3
"""advice.py FILE.json PREFIX: print each distinct command in avcfix's JSON that starts with PREFIX.

A command is a string, or a list of strings (an argv), anywhere in the document.
Used by the e2e job to run exactly what `avcfix why` advised, as an admin would.
"""
import json
import shlex
import sys


def commands(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        if node and all(isinstance(x, str) for x in node):
            yield " ".join(shlex.quote(x) for x in node)
        for item in node:
            yield from commands(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from commands(value)


def main(path, prefix):
    try:
        with open(path) as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return 1
    seen = []
    for cmd in commands(doc):
        cmd = cmd.strip()
        if cmd.startswith(prefix) and "\n" not in cmd and cmd not in seen:
            seen.append(cmd)
    for cmd in seen:
        print(cmd)
    return 0 if seen else 1


sys.exit(main(sys.argv[1], sys.argv[2]))
