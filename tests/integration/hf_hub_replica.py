#!/usr/bin/env python3
"""Builds a static replica of the Hugging Face Hub for one test repository, served by nginx.

Test-only. It lays out what the real hub serves, with the same JSON fields:
  api/models/ORG/NAME/revision/{main,SHA}  {"id","sha","cardData":{"license"},"siblings":[...]}
  api/models/ORG/NAME/tree/SHA             [{"type","oid","size","path","lfs":{"oid","size",
                                              "pointerSize"}}, ...]  (directories included)
  files/ORG/NAME/SHA/PATH                  non-LFS files, served at /ORG/NAME/resolve/SHA/PATH
  cdn/ORG/NAME/SHA256                      LFS files; /ORG/NAME/resolve/SHA/PATH redirects there
and prints nginx `location` blocks for the LFS redirects (one per LFS file).

The hashes are computed here independently of weightsd: git blob ids (SHA-1 of
"blob <len>\\0" + content) for every file, SHA-256 for LFS files (files of at least
--lfs-threshold bytes, or *.safetensors, as .gitattributes does on the hub).

usage: hf_hub_replica.py ROOT ORG/NAME SRC_DIR SHA LICENSE CDN_URL [--tamper PATH]
"""
import hashlib
import json
import os
import shutil
import sys


def git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def main() -> None:
    root, repo, src, sha, license_, cdn_url = sys.argv[1:7]
    tamper = None
    if len(sys.argv) > 7 and sys.argv[7] == "--tamper":
        tamper = sys.argv[8]
    api = os.path.join(root, "api", "models", repo)
    os.makedirs(os.path.join(api, "revision"), exist_ok=True)
    os.makedirs(os.path.join(api, "tree"), exist_ok=True)
    files_dir = os.path.join(root, "files", repo, sha)
    cdn = os.path.join(root, "cdn", repo)
    os.makedirs(cdn, exist_ok=True)
    tree, siblings, dirs, redirects = [], [], set(), []
    for dirpath, _, names in os.walk(src):
        for n in names:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, src)
            with open(full, "rb") as f:
                data = f.read()
            parts = rel.split("/")
            for i in range(1, len(parts)):
                dirs.add("/".join(parts[:i]))
            siblings.append({"rfilename": rel})
            lfs = rel.endswith(".safetensors") or len(data) >= 10 * 1024 * 1024
            if lfs:
                digest = hashlib.sha256(data).hexdigest()
                pointer = (
                    "version https://git-lfs.github.com/spec/v1\n"
                    f"oid sha256:{digest}\nsize {len(data)}\n"
                ).encode()
                tree.append({"type": "file", "oid": git_oid(pointer), "size": len(data),
                             "path": rel,
                             "lfs": {"oid": digest, "size": len(data),
                                     "pointerSize": len(pointer)}})
                served = data
                if rel == tamper:  # same length, different bytes: the hub's hash is the truth
                    served = bytes([data[0] ^ 1]) + data[1:]
                with open(os.path.join(cdn, digest), "wb") as f:
                    f.write(served)
                redirects.append((f"/{repo}/resolve/{sha}/{rel}", f"{cdn_url}/cdn/{repo}/{digest}"))
            else:
                tree.append({"type": "file", "oid": git_oid(data), "size": len(data),
                             "path": rel})
                dst = os.path.join(files_dir, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copyfile(full, dst)
    for d in sorted(dirs):
        tree.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": d})
    tree.sort(key=lambda e: e["path"])
    info = {"_id": "0" * 24, "id": repo, "modelId": repo, "sha": sha, "private": False,
            "gated": False, "disabled": False, "tags": [f"license:{license_}"],
            "cardData": {"license": license_}, "siblings": sorted(siblings,
                                                                 key=lambda s: s["rfilename"])}
    for rev in ("main", sha):
        with open(os.path.join(api, "revision", rev), "w") as f:
            json.dump(info, f)
    with open(os.path.join(api, "tree", sha), "w") as f:
        json.dump(tree, f)
    for path, target in redirects:
        print(f"location = {path} {{ return 302 {target}; }}")


if __name__ == "__main__":
    main()
