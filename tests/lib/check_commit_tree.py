#!/usr/bin/env python3
"""check_commit_tree.py DIR BARE_REPO COMMIT: DIR holds exactly the files of COMMIT in the bare git
repository, each with the content the commit's git objects name (a small file's blob, an LFS
pointer's SHA-256 and size). Links are followed (a Hugging Face cache snapshot is links). Exit 1
naming the difference otherwise."""
import hashlib
import os
import subprocess
import sys

root, bare, commit = sys.argv[1:]


def git(*args):
    return subprocess.run(["git", "-C", bare, *args], check=True, capture_output=True).stdout


want = {}
for line in git("ls-tree", "-r", "-z", commit).split(b"\0"):
    if not line:
        continue
    meta, path = line.split(b"\t", 1)
    blob = git("cat-file", "blob", meta.split()[2].decode())
    if blob.startswith(b"version https://git-lfs.github.com/spec/v1\n"):
        f = dict(l.split(" ", 1) for l in blob.decode().splitlines())
        want[path.decode()] = (int(f["size"]), f["oid"].removeprefix("sha256:"))
    else:
        want[path.decode()] = (len(blob), hashlib.sha256(blob).hexdigest())
have = {}
for d, _, files in os.walk(root):
    for n in files:
        p = os.path.join(d, n)
        with open(p, "rb") as fh:
            data = fh.read()
        have[os.path.relpath(p, root)] = (len(data), hashlib.sha256(data).hexdigest())
if have != want:
    sys.exit(f"{root}: differs from the commit:\n  want {sorted(want.items())}\n"
             f"  have {sorted(have.items())}")
print(f"{len(want)} files match commit {commit}")
