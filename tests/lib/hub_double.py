#!/usr/bin/env python3
"""A Hugging Face Hub double for tests: real git repositories plus the hub's HTTP API.

Test-only. Two roles in one file:

  hub_double.py build ROOT ORG/NAME SRC_DIR [--license L] [--tamper MODE] [--page-size N]
                      [--gated TOKEN] [--refuse STATUS]
      Makes SRC_DIR a real git repository with the `git` program, as the hub stores it: files of
      at least --lfs-threshold bytes and *.safetensors become Git LFS v1 pointer blobs, selected
      by .gitattributes lines `PATTERN filter=lfs diff=lfs merge=lfs -text` (no git-lfs needed);
      other files are plain blobs. The bare repository goes to ROOT/git/ORG/NAME.git (served by
      `git http-backend`, uploadpack.allowAnySHA1InWant on). What the API says is then derived
      from that repository (`git ls-tree`, the pointers), so the commit id is real, and written
      to ROOT/repos/ORG/NAME/hub.json; the bytes the hub serves go to ROOT/raw/ORG/NAME/<commit>
      (small files) and ROOT/cdn/ORG/NAME/<sha256> (LFS files). Prints the commit id.

      Tamper modes (what a dishonest hub or mirror does; the API stays self-consistent):
        extra-file    the API lists, and resolve serves, a file no commit contains
        lfs-bytes     the CDN serves other bytes (same length) for one LFS file
        pointer       the git repository holds another commit, whose pointer for one LFS file
                      names other content; the API names that commit but lists the honest oid
        small-file    resolve serves other bytes (same length) for one small file
        git-404       no git repository is served (git http-backend answers 404)
        expiring      signed CDN URLs are single-use; the first URL minted for each LFS file
                      has already expired, and the first transfer of each LFS file is cut
                      halfway (a client must re-resolve for a fresh URL and resume with Range)

  hub_double.py (as a CGI program under fcgiwrap, GATEWAY_INTERFACE set)
      Answers the hub's HTTP surface from ROOT (env HUB_DOUBLE_ROOT), as the server
      HUB_DOUBLE_ORIGIN (http://host:port), with the CDN at HUB_DOUBLE_CDN (an absolute URL on
      another host:port):
        GET /api/models/ORG/NAME/revision/REV[?blobs=true]   {"id","sha","siblings",...}
        GET /api/models/ORG/NAME/tree/REV[/PATH]?recursive=true[&cursor=N]
                                     [{"type","oid","size","path","lfs"}], Link: <...>; rel="next"
        GET|HEAD /ORG/NAME/resolve/REV/PATH
            LFS file: 302 to CDN/cdn/ORG/NAME/<sha256>?Expires=..&Signature=.. (a fresh URL per
            request) with X-Repo-Commit, X-Linked-Etag, X-Linked-Size, ETag
            small file by commit: the bytes (ETag = git blob oid, X-Repo-Commit)
            small file by branch: relative 307 to /api/resolve-cache/models/ORG/NAME/<sha>/PATH
        GET /api/resolve-cache/models/ORG/NAME/SHA/PATH      the bytes of a small file
        GET /cdn/ORG/NAME/SHA256?Expires=..&Signature=..     (the CDN host) the bytes, or 403
                                                             once the URL expired or was used
      Errors carry a JSON body and X-Error-Code (RepoNotFound and GatedRepo: 401,
      RevisionNotFound and EntryNotFound: 404, the latter with X-Repo-Commit). A repository
      built with --refuse STATUS (403, 410, 451, ...) answers every API, resolve and git request
      with that status and a JSON body, without X-Error-Code (a hub that took it down or is
      barred from serving it). A test switches a built repository's answer by editing its
      live state file ROOT/repos/ORG/NAME/hub.json: "refuse" (0 = serve) and "refuse_code" (an
      X-Error-Code to send with the refusal), read on every request. A gated
      repository wants its token on the API, resolve and git (nginx asks with auth_request,
      HUB_DOUBLE_GIT_AUTH set); the CDN's signed URLs need none. Bytes are sent by nginx itself
      (X-Accel-Redirect to /_raw/ and /_cdn/, so Range works as on the real hub).
"""
import fcntl
import http
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

LFS_ATTRS = "filter=lfs diff=lfs merge=lfs -text"
TAMPER_MODES = ("extra-file", "lfs-bytes", "pointer", "small-file", "git-404", "expiring")
TOKEN_TTL = 3600


def git(*args, cwd):
    e = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
             GIT_AUTHOR_NAME="Hub Double", GIT_AUTHOR_EMAIL="double@example.invalid",
             GIT_COMMITTER_NAME="Hub Double", GIT_COMMITTER_EMAIL="double@example.invalid",
             GIT_AUTHOR_DATE="2026-01-01T00:00:00Z", GIT_COMMITTER_DATE="2026-01-01T00:00:00Z")
    return subprocess.run(["git", *args], cwd=cwd, env=e, check=True,
                          stdout=subprocess.PIPE).stdout


def pointer(data: bytes) -> bytes:
    return ("version https://git-lfs.github.com/spec/v1\n"
            f"oid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n").encode()


def flip_first_byte(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


def write(path, data: bytes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def read_files(src):
    files = {}
    for dirpath, _, names in os.walk(src):
        for n in names:
            full = os.path.join(dirpath, n)
            with open(full, "rb") as f:
                files[os.path.relpath(full, src)] = f.read()
    return files


def listing(repo, commit):
    """The commit's files as the hub's API lists them, read from the git repository."""
    out = []
    for line in git("ls-tree", "-r", "-l", "-z", "--full-tree", commit, cwd=repo).split(b"\0"):
        if not line:
            continue
        meta, path = line.split(b"\t", 1)
        _mode, _type, oid, size = meta.split()
        entry = {"type": "file", "oid": oid.decode(), "size": int(size), "path": path.decode()}
        blob = git("cat-file", "blob", oid.decode(), cwd=repo)
        if blob.startswith(b"version https://git-lfs.github.com/spec/v1\n"):
            fields = dict(l.split(" ", 1) for l in blob.decode().splitlines())
            lfs_oid = fields["oid"].removeprefix("sha256:")
            entry["size"] = int(fields["size"])
            entry["lfs"] = {"oid": lfs_oid, "size": entry["size"], "pointerSize": len(blob)}
        out.append(entry)
    return sorted(out, key=lambda e: e["path"].encode())


def build(argv):
    import argparse
    p = argparse.ArgumentParser(prog="hub_double.py build")
    p.add_argument("root")
    p.add_argument("repo")
    p.add_argument("src")
    p.add_argument("--license", default="mit")
    p.add_argument("--tamper", choices=TAMPER_MODES)
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--lfs-threshold", type=int, default=10 * 1024 * 1024)
    p.add_argument("--gated", metavar="TOKEN", default="",
                   help="API, resolve and git answer 401 without Authorization: Bearer TOKEN")
    p.add_argument("--refuse", type=int, default=0, metavar="STATUS",
                   help="API, resolve and git answer STATUS (no X-Error-Code)")
    a = p.parse_args(argv)
    files = read_files(a.src)
    lfs = sorted(path for path, data in files.items()
                 if path.endswith(".safetensors") or len(data) >= a.lfs_threshold)
    small = sorted(path for path in files if path not in lfs and path != ".gitattributes")
    attrs = "*.safetensors " + LFS_ATTRS + "\n" + "".join(
        f"{path} {LFS_ATTRS}\n" for path in lfs if not path.endswith(".safetensors"))

    work = tempfile.mkdtemp(prefix="hub-double-")
    try:
        git("init", "-q", "-b", "main", work, cwd=work)
        write(os.path.join(work, ".gitattributes"), attrs.encode())
        for path, data in files.items():
            write(os.path.join(work, path), pointer(data) if path in lfs else data)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", f"Upload {a.repo}", cwd=work)
        honest = git("rev-parse", "HEAD", cwd=work).decode().strip()
        listed = listing(work, honest)
        served_commit = honest
        if a.tamper == "pointer":
            # Another commit on the branch: one pointer names other content of the same size.
            # The API keeps listing the honest files under that commit's id.
            target = lfs[0]
            write(os.path.join(work, target), pointer(flip_first_byte(files[target])))
            git("commit", "-q", "-a", "--amend", "-m", f"Upload {a.repo}", cwd=work)
            served_commit = git("rev-parse", "HEAD", cwd=work).decode().strip()
        bare = os.path.join(a.root, "git", a.repo + ".git")
        shutil.rmtree(bare, ignore_errors=True)
        if a.tamper != "git-404":
            os.makedirs(os.path.dirname(bare), exist_ok=True)
            git("clone", "-q", "--bare", work, bare, cwd=work)
            git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=bare)
            git("config", "http.receivepack", "false", cwd=bare)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    repo_dir = os.path.join(a.root, "repos", a.repo)
    raw_dir = os.path.join(a.root, "raw", a.repo)
    cdn_dir = os.path.join(a.root, "cdn", a.repo)
    for d in (repo_dir, raw_dir, cdn_dir):
        shutil.rmtree(d, ignore_errors=True)
    served = dict(files)
    served[".gitattributes"] = attrs.encode()
    if a.tamper == "extra-file":
        extra = "extra/notes.txt"
        served[extra] = b"not part of any commit\n"
        listed.append({"type": "file", "oid": hashlib.sha1(
            b"blob %d\0" % len(served[extra]) + served[extra]).hexdigest(),
            "size": len(served[extra]), "path": extra})
        listed.sort(key=lambda e: e["path"].encode())
    if a.tamper == "lfs-bytes":
        served[lfs[0]] = flip_first_byte(served[lfs[0]])
    if a.tamper == "small-file":
        target = [p for p in small if p.endswith(".json")][0]
        served[target] = flip_first_byte(served[target])
    for e in listed:
        data = served[e["path"]]
        if "lfs" in e:
            write(os.path.join(cdn_dir, e["lfs"]["oid"]), data)
        else:
            write(os.path.join(raw_dir, served_commit, e["path"]), data)
    state = {"repo": a.repo, "sha": served_commit, "branch": "main", "license": a.license,
             "page_size": a.page_size, "tamper": a.tamper or "", "gated_token": a.gated,
             "refuse": a.refuse, "files": listed}
    write(os.path.join(repo_dir, "hub.json"), json.dumps(state, indent=1).encode())
    print(served_commit)


# ---- CGI ----------------------------------------------------------------------------------------

class Reply(Exception):
    def __init__(self, status, body=b"", headers=()):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, list(headers)


def error(status, code, message, headers=()):
    return Reply(status, json.dumps({"error": message}).encode(),
                 [("Content-Type", "application/json"), ("X-Error-Code", code), *headers])


def read_state(root, repo):
    """The repository's state; 401 when it does not exist."""
    path = os.path.join(root, "repos", repo, "hub.json")
    if ".." in repo.split("/") or not os.path.isfile(path):
        raise error(401, "RepoNotFound", f"Repository Not Found for url: {repo}.")
    with open(path) as f:
        return json.load(f)


def load_repo(root, repo):
    """read_state, and 401 when the repository is gated and the request lacks its token."""
    state = read_state(root, repo)
    if state.get("refuse"):
        status = state["refuse"]
        code = [("X-Error-Code", state["refuse_code"])] if state.get("refuse_code") else []
        raise Reply(status, json.dumps({"error": http.HTTPStatus(status).phrase}).encode(),
                    [("Content-Type", "application/json"), *code])
    token = state["gated_token"]
    if token and os.environ.get("HTTP_AUTHORIZATION") != f"Bearer {token}":
        raise error(401, "GatedRepo", f"Access to model {repo} is restricted. You must have "
                                      "access to it and be authenticated to access it.")
    return state


def git_auth(root, parts):
    """nginx's auth_request for a git request: 204 lets it through to git http-backend."""
    repo = "/".join(parts[:2]).removesuffix(".git")
    if os.path.isfile(os.path.join(root, "repos", repo, "hub.json")):
        load_repo(root, repo)
    return Reply(204)


def commit_of(state, rev):
    if rev in (state["branch"], state["sha"]):
        return state["sha"]
    raise error(404, "RevisionNotFound", f"Invalid rev id: {rev}")


def revision(state, rev, query):
    sha = commit_of(state, rev)
    siblings = []
    for e in state["files"]:
        s = {"rfilename": e["path"]}
        if query.get("blobs") == ["true"]:
            s.update({"blobId": e["oid"], "size": e["size"]})
            if "lfs" in e:
                s["lfs"] = {"sha256": e["lfs"]["oid"], "size": e["size"],
                            "pointerSize": e["lfs"]["pointerSize"]}
        siblings.append(s)
    info = {"_id": "0" * 24, "id": state["repo"], "modelId": state["repo"], "sha": sha,
            "private": False, "gated": "manual" if state["gated_token"] else False,
            "disabled": False,
            "tags": [f"license:{state['license']}"], "cardData": {"license": state["license"]},
            "siblings": siblings}
    return Reply(200, json.dumps(info).encode(), [("Content-Type", "application/json")])


def tree(state, rev, prefix, query, self_url):
    commit_of(state, rev)
    entries, dirs = [], set()
    for e in state["files"]:
        parts = e["path"].split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
        entries.append(dict(e))
    entries += [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0,
                 "path": d} for d in dirs]
    entries.sort(key=lambda e: e["path"].encode())
    if prefix:
        entries = [e for e in entries if e["path"].startswith(prefix.rstrip("/") + "/")]
    if query.get("recursive") != ["true"]:
        base = prefix.count("/") + 1 if prefix else 0
        entries = [e for e in entries if e["path"].count("/") == base]
    start = int(query.get("cursor", ["0"])[0])
    page = entries[start:start + state["page_size"]]
    headers = [("Content-Type", "application/json")]
    if start + state["page_size"] < len(entries):
        q = dict(query)
        q["cursor"] = [str(start + state["page_size"])]
        headers.append(("Link", f'<{self_url}?{urllib.parse.urlencode(q, doseq=True)}>; '
                                'rel="next"'))
    return Reply(200, json.dumps(page).encode(), headers)


def locked(root):
    f = open(os.path.join(root, "tokens.lock"), "a")
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


def tokens_path(root):
    return os.path.join(root, "tokens.json")


def load_tokens(root):
    try:
        with open(tokens_path(root)) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"tokens": {}, "minted": {}, "cut": {}}


def save_tokens(root, t):
    tmp = tokens_path(root) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(t, f)
    os.replace(tmp, tokens_path(root))


def mint(root, state, oid):
    """A fresh signed URL path+query for one LFS object."""
    with locked(root):
        t = load_tokens(root)
        key = f"{state['repo']}/{oid}"
        t["minted"][key] = t["minted"].get(key, 0) + 1
        expiring = state["tamper"] == "expiring"
        # The first URL of each object in "expiring" mode is stale on arrival.
        expires = int(time.time()) + (-1 if expiring and t["minted"][key] == 1 else TOKEN_TTL)
        sig = secrets.token_hex(16)
        t["tokens"][sig] = {"object": key, "expires": expires, "uses": 1 if expiring else -1}
        save_tokens(root, t)
    return f"/cdn/{state['repo']}/{oid}?Expires={expires}&Signature={sig}"


def resolve(root, state, rev, path, cdn):
    sha = commit_of(state, rev)
    entry = next((e for e in state["files"] if e["path"] == path), None)
    if entry is None:
        raise error(404, "EntryNotFound", f"{path} does not exist on \"{rev}\"",
                    [("X-Repo-Commit", sha)])
    common = [("X-Repo-Commit", sha)]
    if "lfs" in entry:
        oid = entry["lfs"]["oid"]
        return Reply(302, b"", common + [
            ("Location", cdn + mint(root, state, oid)), ("X-Linked-Etag", f'"{oid}"'),
            ("X-Linked-Size", str(entry["size"])), ("ETag", f'"{oid}"')])
    etag = [("ETag", f'"{entry["oid"]}"')]
    if rev != sha:
        repo_q = urllib.parse.quote(state["repo"])
        target = (f"/api/resolve-cache/models/{repo_q}/{sha}/{urllib.parse.quote(path)}?"
                  + urllib.parse.urlencode({f"/{state['repo']}/resolve/{rev}/{path}": "",
                                            "etag": f'"{entry["oid"]}"'}))
        return Reply(307, b"", common + etag + [("Location", target)])
    return Reply(200, b"", common + etag + [
        ("X-Accel-Redirect", f"/_raw/{urllib.parse.quote(state['repo'])}/{sha}/"
                             f"{urllib.parse.quote(path)}")])


def cdn_get(root, repo, oid, query):
    key = f"{repo}/{oid}"
    sig = query.get("Signature", [""])[0]
    with locked(root):
        t = load_tokens(root)
        tok = t["tokens"].get(sig)
        denied = (tok is None or tok["object"] != key or tok["expires"] < time.time()
                  or tok["uses"] == 0)
        if not denied and tok["uses"] > 0:
            tok["uses"] -= 1
        state = read_state(root, repo)  # a signed URL needs no token
        cut = (not denied and state["tamper"] == "expiring" and not t["cut"].get(key)
               and not os.environ.get("HTTP_RANGE"))
        if cut:
            t["cut"][key] = True
        save_tokens(root, t)
    if denied:
        raise Reply(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired"
                         b"</Message></Error>", [("Content-Type", "application/xml")])
    path = os.path.join(root, "cdn", repo, oid)
    if cut:
        log(root, "200-cut")
        with open(path, "rb") as f:
            data = f.read()
        sys.stdout.buffer.write(b"Status: 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                + f"Content-Length: {len(data)}\r\n\r\n".encode()
                                + data[:len(data) // 2])
        sys.stdout.buffer.flush()
        os._exit(0)  # the connection ends halfway through the body
    return Reply(200, b"", [("X-Accel-Redirect",
                             f"/_cdn/{urllib.parse.quote(repo)}/{oid}")])


def handle(root, cdn):
    method = os.environ.get("REQUEST_METHOD", "GET")
    uri = os.environ.get("REQUEST_URI", "/")
    raw_path, _, qs = uri.partition("?")
    query = urllib.parse.parse_qs(qs, keep_blank_values=True)
    parts = [urllib.parse.unquote(p) for p in raw_path.split("/")[1:]]
    if os.environ.get("HUB_DOUBLE_GIT_AUTH"):
        return git_auth(root, parts)
    if method not in ("GET", "HEAD"):
        raise error(405, "MethodNotAllowed", f"{method} not allowed")
    if parts[:2] == ["api", "models"] and len(parts) >= 6:
        repo = "/".join(parts[2:4])
        state = load_repo(root, repo)
        if parts[4] == "revision":
            return revision(state, "/".join(parts[5:]), query)
        if parts[4] == "tree":
            self_url = f"{os.environ.get('HUB_DOUBLE_ORIGIN', '')}{raw_path}"
            return tree(state, parts[5], "/".join(parts[6:]), query, self_url)
    if parts[:3] == ["api", "resolve-cache", "models"] and len(parts) >= 7:
        state = load_repo(root, "/".join(parts[3:5]))
        return resolve(root, state, parts[5], "/".join(parts[6:]), cdn)
    if len(parts) >= 5 and parts[2] == "resolve":
        state = load_repo(root, "/".join(parts[:2]))
        return resolve(root, state, parts[3], "/".join(parts[4:]), cdn)
    if parts[0] == "cdn" and len(parts) == 4:
        return cdn_get(root, "/".join(parts[1:3]), parts[3], query)
    raise error(404, "NotFound", f"{raw_path}: not found")


def log(root, status):
    """One line per request in ROOT/requests.log: what a test asserts on."""
    env = os.environ
    with open(os.path.join(root, "requests.log"), "a") as f:
        f.write(f"{status} {env.get('REQUEST_METHOD')} {env.get('HUB_DOUBLE_ORIGIN')}"
                f"{env.get('REQUEST_URI')} range={env.get('HTTP_RANGE', '')} "
                f"auth={'yes' if env.get('HTTP_AUTHORIZATION') else 'no'}\n")


def cgi():
    root = os.environ["HUB_DOUBLE_ROOT"]
    cdn = os.environ.get("HUB_DOUBLE_CDN", "")
    try:
        r = handle(root, cdn)
    except Reply as e:
        r = e
    log(root, r.status)
    head = f"Status: {r.status} {http.HTTPStatus(r.status).phrase}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in r.headers)
    if not any(k == "X-Accel-Redirect" for k, _ in r.headers):
        head += f"Content-Length: {len(r.body)}\r\n"
    out = head.encode() + b"\r\n"
    if os.environ.get("REQUEST_METHOD") != "HEAD":
        out += r.body
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    if os.environ.get("GATEWAY_INTERFACE"):
        cgi()
    elif len(sys.argv) > 1 and sys.argv[1] == "build":
        build(sys.argv[2:])
    else:
        sys.exit(__doc__)
