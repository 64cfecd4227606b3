"""Who may do what, decided from plain values: no database, no HTTP.

`rules` (login verdicts, lockout, IP lists, permissions, DID visibility), `passhash` and
`blowfish` (VICIdial's bcrypt scheme, every cost), `throttle` (failed logins per address).
"""
