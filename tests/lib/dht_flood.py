#!/usr/bin/env python3
"""A scripted DHT node that floods pins' rendezvous keys with bogus peers (tests only).

    dht_flood.py --node IP:PORT... --pin REPO COMMIT... --closed IP:N --tarpit IP:N
                 --garbage IP:N --status FILE

Each group IP:N stands for N TCP ports on IP, all announced (BEP 5 announce_peer) under every
--pin's key (docs/pinned-releases.md §4) to every --node, from a UDP socket bound on that IP (a
DHT node stores the announcing packet's source address with the announced port):

  closed   nothing listens on the ports (connection refused);
  tarpit   each port accepts connections and never answers;
  garbage  each port answers a pin exchange request wrongly, by port in turn: not JSON, an offer
           of another commit, an offer of the pin with objects that do not match it, 503, an
           offer over 4 KiB, a redirect, an offer of the pin whose objects trickle in, a closed
           connection.

For each pin the key is first looked up at each node (get_peers, for the node's token), then the
ports are announced at most 3 a second per node and source address: libtorrent's DHT bans an
address that sends it 50 packets within 10 s. Queries the nodes send to the flooder are answered
(ping, find_node, get_peers with no peers), so it is a well-behaved node apart from its lies.
After each pin's announces "announced REPO" is appended to --status. Runs until killed.
Loopback only: every address must be in 127.0.0.0/8.
"""
import argparse
import asyncio
import hashlib
import ipaddress
import json
import os
import socket
import sys

RULE = "weightsd-pin/1"


def key_of(repo, commit):
    return hashlib.sha1(f"{RULE}\nhuggingface\n{repo.lower()}\n{commit.lower()}\n".encode()).digest()


# --- bencode (the subset KRPC uses) -------------------------------------------------------------

def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(type(v))


def bdecode(data, i=0):
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        out, i = [], i + 1
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while data[i:i + 1] != b"e":
            k, i = bdecode(data, i)
            v, i = bdecode(data, i)
            out[k] = v
        return out, i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


# --- the DHT side -------------------------------------------------------------------------------

class Krpc(asyncio.DatagramProtocol):
    """One source address: sends queries, matches responses, answers queries."""

    def __init__(self):
        self.node_id = os.urandom(20)
        self.pending = {}
        self.next_tid = 0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        try:
            msg, _ = bdecode(data)
        except (ValueError, IndexError):
            return
        if not isinstance(msg, dict):
            return
        y, tid = msg.get(b"y"), msg.get(b"t", b"")
        if y in (b"r", b"e"):
            fut = self.pending.pop(tid, None)
            if fut and not fut.done():
                fut.set_result(msg)
        elif y == b"q":
            q = msg.get(b"q", b"")
            r = {"id": self.node_id}
            if q in (b"find_node", b"get_peers"):
                r["nodes"] = b""
            if q == b"get_peers":
                r["token"] = b"flood"
            self.transport.sendto(bencode({"t": tid, "y": "r", "r": r}), addr)

    async def query(self, addr, q, args, timeout=3.0):
        self.next_tid = (self.next_tid + 1) % 65536
        tid = self.next_tid.to_bytes(2, "big")
        fut = asyncio.get_running_loop().create_future()
        self.pending[tid] = fut
        args = dict(args, id=self.node_id)
        self.transport.sendto(bencode({"t": tid, "y": "q", "q": q, "a": args}), addr)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self.pending.pop(tid, None)
            return None


async def announce_group(krpc, nodes, key, ports):
    """get_peers for each node's token, then every port to every node, paced per node."""
    tokens = {}
    for node in nodes:
        for _ in range(3):
            r = await krpc.query(node, "get_peers", {"info_hash": key})
            if r and b"r" in r and b"token" in r[b"r"]:
                tokens[node] = r[b"r"][b"token"]
                break
    if len(tokens) != len(nodes):
        missing = [f"{a}:{p}" for a, p in nodes if (a, p) not in tokens]
        raise RuntimeError(f"no token from {missing}")
    for port in ports:
        for node in nodes:
            krpc.transport.sendto(bencode({
                "t": b"an", "y": "q", "q": "announce_peer",
                "a": {"id": krpc.node_id, "info_hash": key, "port": port,
                      "token": tokens[node], "implied_port": 0}}), node)
        await asyncio.sleep(1 / 3)


# --- the bogus pin exchanges ----------------------------------------------------------------------

def offer(repo, commit, objects):
    return json.dumps({
        "bt_port": 6881, "commit": commit, "info_hash_v2": "ab" * 32,
        "objects_sha256": hashlib.sha256(objects).hexdigest(), "objects_size": len(objects),
        "repo": repo.lower(), "rule": RULE, "upstream": "huggingface"},
        separators=(",", ":"), sort_keys=True).encode()


def response(status, body, extra=""):
    reason = {200: "OK", 302: "Found", 503: "Service Unavailable"}[status]
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n{extra}"
            f"Connection: close\r\n\r\n").encode() + body


async def serve_garbage(kind, pins, reader, writer):
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        target = head.split(b" ")[1].decode()
        key_hex = target.split("/")[3] if target.count("/") >= 3 else ""
        repo, commit = pins.get(key_hex, next(iter(pins.values())))
        objects = os.urandom(1000)
        wants_objects = target.endswith("/objects")
        if kind == 0:
            writer.write(response(200, b"hello, not json"))
        elif kind == 1:
            writer.write(response(200, offer(repo, "0" * 40, objects)))
        elif kind == 2:
            writer.write(response(200, os.urandom(1000) if wants_objects
                                  else offer(repo, commit, objects)))
        elif kind == 3:
            writer.write(response(503, b"busy\n"))
        elif kind == 4:
            writer.write(response(200, b" " * 5000 + offer(repo, commit, objects)))
        elif kind == 5:
            writer.write(response(302, b"", "Location: http://127.0.0.1:9/\r\n"))
        elif kind == 6:
            if wants_objects:
                # Claims 1 MiB, sends a byte every 2 s.
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n")
                for _ in range(600):
                    await writer.drain()
                    await asyncio.sleep(2)
                    writer.write(b"x")
            else:
                writer.write(response(200, offer(repo, commit, os.urandom(1 << 20))))
        # kind 7: closed at once
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError,
            IndexError, UnicodeDecodeError):
        pass
    finally:
        writer.close()


tarpitted = []


async def serve_tarpit(reader, writer):
    tarpitted.append(writer)  # held open, never answered


def group(text):
    ip, n = text.rsplit(":", 1)
    if not ipaddress.ip_address(ip).is_loopback:
        raise argparse.ArgumentTypeError(f"{ip}: loopback only")
    return ip, int(n)


def endpoint(text):
    ip, port = text.rsplit(":", 1)
    if not ipaddress.ip_address(ip).is_loopback:
        raise argparse.ArgumentTypeError(f"{ip}: loopback only")
    return ip, int(port)


def free_ports(ip, n):
    """n ports nothing listens on at ip now (bound and released)."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind((ip, 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--node", type=endpoint, action="append", required=True)
    p.add_argument("--pin", nargs=2, action="append", required=True, metavar=("REPO", "COMMIT"))
    p.add_argument("--closed", type=group, required=True)
    p.add_argument("--tarpit", type=group, required=True)
    p.add_argument("--garbage", type=group, required=True)
    p.add_argument("--status", required=True)
    a = p.parse_args()
    pins = {key_of(r, c).hex(): (r, c) for r, c in a.pin}

    groups = []
    ip, n = a.closed
    groups.append((ip, free_ports(ip, n)))
    ip, n = a.tarpit
    ports = []
    for _ in range(n):
        server = await asyncio.start_server(serve_tarpit, ip, 0)
        ports.append(server.sockets[0].getsockname()[1])
    groups.append((ip, ports))
    ip, n = a.garbage
    ports = []
    for i in range(n):
        server = await asyncio.start_server(
            lambda r, w, kind=i % 8: serve_garbage(kind, pins, r, w), ip, 0)
        ports.append(server.sockets[0].getsockname()[1])
    groups.append((ip, ports))

    loop = asyncio.get_running_loop()
    senders = []
    for ip, ports in groups:
        _, krpc = await loop.create_datagram_endpoint(Krpc, local_addr=(ip, 0))
        senders.append((krpc, ports))
    for repo, commit in a.pin:
        key = key_of(repo, commit)
        await asyncio.gather(*(announce_group(k, a.node, key, ports) for k, ports in senders))
        with open(a.status, "a") as f:
            f.write(f"announced {repo} {sum(len(p) for _, p in senders)}\n")
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except RuntimeError as e:
        print(f"dht_flood: {e}", file=sys.stderr)
        sys.exit(1)
