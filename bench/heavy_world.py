#!/usr/bin/env python3
"""An activity-heavy world for import benchmarks: a generated world with three times its
activity lines.

usage: bench/heavy_world.py WORLD.jsonl OUT.jsonl
  e.g. groupscout gen --groups 1000000 --seed 1 --out world-1000000.jsonl
       bench/heavy_world.py world-1000000.jsonl world-heavy-1000000.jsonl

Every line of WORLD is kept, in order; after each activity line come two more for the same
group (SPEC §3, import format), each a distinct event so that the importer counts them:
  - the same user a day and 37 minutes earlier, with one message more;
  - another member of the group (taken from the world's member lines, which come before
    its activity) two days and 2 h 13 min earlier, with a different count.
They name only users and groups the world creates, and keep `messages` within 0..100000,
so they import without rejections. Deterministic: the same WORLD gives the same OUT.
"""

import datetime
import json
import sys

MAX_MESSAGES = 100_000


def activity(group_id, user_id, at, messages):
    return json.dumps(
        {"type": "activity", "group_id": group_id, "user_id": user_id, "at": at.isoformat(), "messages": messages},
        separators=(",", ":"),
    )


def extra_lines(line, members, index):
    """The two lines added after the activity line `line` (the `index`-th of the world)."""
    group_id, user_id = line["group_id"], line["user_id"]
    at = datetime.datetime.fromisoformat(line["at"])
    messages = line["messages"]
    same_user = activity(group_id, user_id, at - datetime.timedelta(days=1, minutes=37), min(messages + 1, MAX_MESSAGES))
    seated = members.get(group_id) or [user_id]
    other = seated[(index * 7919 + user_id) % len(seated)]
    other_user = activity(
        group_id, other, at - datetime.timedelta(days=2, hours=2, minutes=13), (messages * 3 + index) % 50 + 1
    )
    return same_user, other_user


def main(world, out):
    members = {}
    added = 0
    index = 0
    with open(world, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for raw in src:
            dst.write(raw)
            if raw.startswith('{"type":"member"'):
                m = json.loads(raw)
                members.setdefault(m["group_id"], []).append(m["user_id"])
            elif raw.startswith('{"type":"activity"'):
                for extra in extra_lines(json.loads(raw), members, index):
                    dst.write(extra + "\n")
                    added += 1
                index += 1
    print(f"{out}: {index} activity lines of the world, {added} added", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
