#!/usr/bin/env python3
"""Checks every DKIM-Signature of one email with dkimpy, a verifier that shares
no code with ours, against DNS records given on the command line (never real
DNS). The server tests (tests/api/dkim.rs) run it on emails their SMTP sink
received, with the records `switchboard-server mail dns` printed.

    python3 dkimpy_verify.py MESSAGE.eml NAME=VALUE [NAME=VALUE ...]

NAME is a DNS name (`sb1._domainkey.example.com`), VALUE its TXT value as one
string. Prints one line per signature, `<s=> <a=> pass|fail[: reason]`, and
exits 0 only when there is at least one signature and every one passes; 2 when
dkimpy (or PyNaCl, for ed25519) is missing.
"""

import sys

try:
    import dkim
    import nacl  # noqa: F401  (dkimpy verifies ed25519 with it)
except ImportError as e:
    print(f"dkimpy_verify: {e}: pip install dkimpy pynacl", file=sys.stderr)
    sys.exit(2)


def main() -> int:
    path, *records = sys.argv[1:]
    zone = {}
    for record in records:
        name, value = record.split("=", 1)
        zone[name.rstrip(".").lower()] = value.encode()

    def dnsfunc(name, timeout=5):
        return zone.get(name.decode().rstrip(".").lower())

    with open(path, "rb") as f:
        message = f.read()
    d = dkim.DKIM(message, minkey=1024)
    signatures = [v for (n, v) in d.headers if n.lower() == b"dkim-signature"]
    if not signatures:
        print("no DKIM-Signature")
        return 1
    ok = True
    for idx, raw in enumerate(signatures):
        tags = dkim.util.parse_tag_value(raw)
        label = f"{tags.get(b's', b'?').decode()} {tags.get(b'a', b'?').decode()}"
        try:
            passed = d.verify(idx=idx, dnsfunc=dnsfunc)
            reason = ""
        except dkim.DKIMException as e:
            passed, reason = False, f": {e}"
        print(f"{label} {'pass' if passed else 'fail'}{reason}")
        ok = ok and passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
