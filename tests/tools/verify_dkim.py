#!/usr/bin/python3
"""Verifies the DKIM signature of a message file with dkimpy (Debian's python3-dkim), given
the DNS TXT record of the key directly (no DNS). Prints "pass" or "fail" and exits 0 / 1.
Usage: verify_dkim.py MESSAGE_FILE TXT_RECORD"""
import sys
import dkim

message = open(sys.argv[1], "rb").read()
record = sys.argv[2].encode()
ok = dkim.verify(message, dnsfunc=lambda name, timeout=5: record)
print("pass" if ok else "fail")
sys.exit(0 if ok else 1)
