"""Proof an inspector can trust: a site key, a signed hash-chained log, its verifier.

Every record of the log is signed with the site's Ed25519 key and names the hash of
the record before it, so editing, deleting, reordering or inserting a record, or
cutting the log short, shows up when the log is checked against the site's public key.
"""
