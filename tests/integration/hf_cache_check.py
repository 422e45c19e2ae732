#!/usr/bin/env python3
"""Checks a Hugging Face cache weightsd materialised against what @huggingface/hub's
scanCacheDir saw in it (tests/npm/scan-hf-cache.mjs output) and against the source files.

    hf_cache_check.py SCAN_JSON CACHE_DIR SPEC_JSON

SPEC_JSON: {"org/name": {"<snapshot folder>": {"src": DIR, "refs": [...], "include": [globs]}}}
(include empty or absent: every file of DIR). Checked:
  - the scanner lists exactly these repos and revisions, without warnings, each revision with
    exactly its refs and exactly the selected top-level files, with their sizes and blob names
    (a blob's name is its content's git blob id or SHA-256), and the revision's total size;
  - files in sub-folders (the scanner does not descend): each a relative link into blobs/ with
    one ".." per level, the blob named by its content's hash, the bytes those of the source;
    no other file in any snapshot;
  - refs/ holds exactly the listed refs, each naming its snapshot folder, and every ref resolves
    offline as huggingface_hub's try_to_load_from_cache does (refs/<name> -> snapshots/<commit>
    -> file) to the source bytes of every selected file.
Exits 1 with one line per problem.
"""
import fnmatch
import hashlib
import json
import os
import sys

problems = []


def problem(msg):
    problems.append(msg)


def git_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def names_content(name, data):
    return name in (hashlib.sha256(data).hexdigest(), git_oid(data))


def selected_files(src, include):
    out = []
    for dirpath, _, files in os.walk(src):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            if not include or any(fnmatch.fnmatchcase(rel, g) for g in include):
                out.append(rel)
    return sorted(out)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_revision(repo_dir, repo, rev, want, seen):
    where = f"{repo}@{rev}"
    src = want["src"]
    files = selected_files(src, want.get("include") or [])
    if sorted(seen["refs"]) != sorted(want["refs"]):
        problem(f"{where}: scanner refs {seen['refs']}, expected {want['refs']}")
    top = [f for f in files if "/" not in f]
    listed = {f["path"]: f for f in seen["files"]}
    if sorted(listed) != top:
        problem(f"{where}: scanner files {sorted(listed)}, expected {top}")
    total = 0
    for path in top:
        data = read(os.path.join(src, path))
        total += len(data)
        got = listed.get(path)
        if got is None:
            continue
        if got["size"] != len(data):
            problem(f"{where}/{path}: scanner size {got['size']}, source {len(data)}")
        if not names_content(got["blob"], data):
            problem(f"{where}/{path}: blob {got['blob']} is not its content's hash")
    if seen["size"] != total:
        problem(f"{where}: scanner size {seen['size']}, expected {total}")
    snap = os.path.join(repo_dir, "snapshots", rev)
    blobs = os.path.realpath(os.path.join(repo_dir, "blobs"))
    on_disk = []
    for dirpath, _, names in os.walk(snap):
        for n in names:
            on_disk.append(os.path.relpath(os.path.join(dirpath, n), snap))
    if sorted(on_disk) != files:
        problem(f"{where}: snapshot holds {sorted(on_disk)}, expected {files}")
    for path in files:
        if "/" not in path:
            continue
        entry = os.path.join(snap, path)
        if not os.path.islink(entry):
            problem(f"{where}/{path}: not a link")
            continue
        target = os.readlink(entry)
        depth = path.count("/")
        prefix = "../" * (depth + 2) + "blobs/"
        blob = os.path.realpath(entry)
        data = read(os.path.join(src, path))
        if not target.startswith(prefix) or os.path.dirname(blob) != blobs:
            problem(f"{where}/{path}: links to {target}, not into blobs/")
        elif not names_content(os.path.basename(blob), data):
            problem(f"{where}/{path}: blob {os.path.basename(blob)} is not its content's hash")
        elif read(blob) != data:
            problem(f"{where}/{path}: bytes differ from the source")


def main():
    scan_path, cache, spec_path = sys.argv[1:]
    with open(scan_path) as f:
        scan = json.load(f)
    with open(spec_path) as f:
        spec = json.load(f)
    if scan["warnings"]:
        problem(f"scanner warnings: {scan['warnings']}")
    repos = {r["repo"]: r for r in scan["repos"]}
    if sorted(repos) != sorted(spec):
        problem(f"scanner repos {sorted(repos)}, expected {sorted(spec)}")
    for repo, revs in spec.items():
        seen_repo = repos.get(repo)
        if seen_repo is None:
            continue
        repo_dir = os.path.join(cache, "models--" + repo.replace("/", "--"))
        seen = {r["revision"]: r for r in seen_repo["revisions"]}
        if sorted(seen) != sorted(revs):
            problem(f"{repo}: scanner revisions {sorted(seen)}, expected {sorted(revs)}")
        for rev, want in revs.items():
            if rev in seen:
                check_revision(repo_dir, repo, rev, want, seen[rev])
        refs_dir = os.path.join(repo_dir, "refs")
        want_refs = {ref: rev for rev, want in revs.items() for ref in want["refs"]}
        have_refs = sorted(os.listdir(refs_dir))
        if have_refs != sorted(want_refs):
            problem(f"{repo}: refs/ holds {have_refs}, expected {sorted(want_refs)}")
        for ref, rev in want_refs.items():
            path = os.path.join(refs_dir, ref)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            commit = read(path).decode()
            if commit != rev:
                problem(f"{repo}: refs/{ref} names {commit!r}, expected {rev!r}")
                continue
            want = revs[rev]
            for f in selected_files(want["src"], want.get("include") or []):
                p = os.path.join(repo_dir, "snapshots", commit, f)
                if not os.path.isfile(p) or read(p) != read(os.path.join(want["src"], f)):
                    problem(f"{repo}: revision {ref!r} does not resolve offline to {f}")
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
