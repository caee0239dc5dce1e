#!/usr/bin/env python3
"""Rebuild an incremental off-site copy without the service (docs/offsite.md, "Page copies").

Needs only python3, Debian's `age`, `zstd` and `sqlite3`. Download the manifest and the database's packs first, e.g.:

  aws s3 cp s3://BUCKET/chaoscypher/v2/INSTALL/db/DB/auto_20260101_020000.db.pages .
  aws s3 cp --recursive s3://BUCKET/chaoscypher/v2/INSTALL/packs/DB/ packs/

then:  rebuild-offsite.py auto_20260101_020000.db.pages packs/ kit.txt app.db [--key HEX]

Every page is checked against the manifest's hash, the whole file against its SHA-256, and, with --key (the 64 hex
of the kit's CHAOSCYPHER-OFFSITE-KEY-1 line), every pack against its keyed id. Packs of a version-2 or -3 manifest
are decompressed after decryption, each by its own magic number: zstd (by hand: age -d -i kit.txt PACK | zstd -d)
or gzip, written by earlier versions (age -d -i kit.txt PACK | gunzip).
Exits 1 naming the first bad piece.
"""

import argparse
import base64
import gzip
import hashlib
import hmac
import json
import os
import subprocess
import sys
import zlib


def fail(message):
    print(f"rebuild-offsite: {message}", file=sys.stderr)
    sys.exit(1)


def read_manifest(path):
    with open(path, encoding="utf-8") as f:
        header = json.loads(f.readline())
        if header.get("format") != "chaoscypher-manifest" or header.get("type") != "pages":
            fail("not a page manifest")
        compression = {1: "", 2: "gzip", 3: "zstd"}
        if header.get("version") not in compression:
            fail(f"page manifest version {header.get('version')} is not known")
        if header.get("pack_compression", "") != compression[header["version"]]:
            fail("unknown pack compression")
        segments = [json.loads(line) for line in f if line.strip()]
    return header, segments


def read_pack(packs, pack_id, suffix, compression, identity, key):
    path = os.path.join(packs, pack_id[:2], pack_id + suffix)
    if not os.path.exists(path):
        path = os.path.join(packs, pack_id + suffix)
    if not os.path.exists(path):
        fail(f"pack {pack_id} is missing")
    if suffix:
        done = subprocess.run(["age", "-d", "-i", identity, path], capture_output=True)
        if done.returncode != 0:
            fail(f"pack {pack_id} could not be decrypted: {done.stderr.decode().strip()}")
        data = done.stdout
    else:
        with open(path, "rb") as f:
            data = f.read()
    if compression:
        data = decompress(data, pack_id)
    if key is not None:
        digest = hashlib.sha256(data).hexdigest()
        expected = hmac.new(key, f"chaoscypher blob id\n{digest}".encode(), hashlib.sha256).hexdigest()
        if expected != pack_id:
            fail(f"pack {pack_id} is not what its name says (damaged, foreign or planted)")
    return data


def decompress(data, pack_id):
    """A pack's pages: a zstd frame, or a gzip one from an earlier version, told by its magic number."""
    if data[:4] == b"\x28\xb5\x2f\xfd":
        done = subprocess.run(["zstd", "-d", "-c", "-q"], input=data, capture_output=True)
        if done.returncode == 0:
            return done.stdout
    elif data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            pass
    fail(f"pack {pack_id} could not be decompressed (damaged)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest")
    parser.add_argument("packs")
    parser.add_argument("identity")
    parser.add_argument("out")
    parser.add_argument("--key", help="the install's off-site key (64 hex) to check every pack's id")
    args = parser.parse_args()
    key = bytes.fromhex(args.key) if args.key else None
    header, segments = read_manifest(args.manifest)
    page_size, pages = header["page_size"], header["pages"]
    by_pack = {}
    next_page = 0
    for seg in segments:
        if seg["first"] != next_page:
            fail(f"manifest segment at page {next_page} is missing")
        page = seg["first"]
        for count, pack, offset in seg["runs"]:
            by_pack.setdefault(pack, []).append((page, count, offset))
            page += count
        if page != seg["first"] + seg["count"]:
            fail(f"manifest segment at page {seg['first']} is not covered")
        next_page = page
    if next_page != pages:
        fail(f"the manifest covers {next_page} of {pages} pages")
    if os.path.exists(args.out):
        fail(f"{args.out} exists")
    with open(args.out, "wb") as out:
        out.truncate(header["size"])
        for pack, runs in by_pack.items():
            data = read_pack(args.packs, pack, header["pack_suffix"], header.get("pack_compression", ""), args.identity, key)
            for first, count, offset in runs:
                chunk = data[offset * page_size:(offset + count) * page_size]
                if len(chunk) != count * page_size:
                    fail(f"pack {pack} is shorter than the manifest says")
                out.seek(first * page_size)
                out.write(chunk)
    whole = hashlib.sha256()
    with open(args.out, "rb") as f:
        for seg in segments:
            hashes = base64.b64decode(seg["hashes"])
            for i in range(seg["count"]):
                page = f.read(page_size)
                whole.update(page)
                if hashlib.sha256(page).digest()[:16] != hashes[i * 16:(i + 1) * 16]:
                    fail(f"page {seg['first'] + i + 1} does not match the manifest")
    if whole.hexdigest() != header["sha256"]:
        fail("the rebuilt file's SHA-256 does not match the manifest")
    check = subprocess.run(["sqlite3", args.out, "PRAGMA integrity_check"], capture_output=True, text=True)
    if check.stdout.strip() != "ok":
        fail(f"integrity_check: {check.stdout.strip() or check.stderr.strip()}")
    print(f"{args.out}: {header['size']} bytes, sha256 {header['sha256']}, integrity ok")


if __name__ == "__main__":
    main()
