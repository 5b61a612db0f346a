"""The NATS side of core: the embedded nats-server, its NSC-style JWT auth and the cluster topology.

Pure modules (no process or network I/O): `nkey`, `jwt`, `creds`, `topology`, `config`, `settings`.
`auth` keeps the operator and accounts on disk, `process` owns the nats-server child,
`fly_dns` asks Fly's internal DNS, and `service` ties them together for `core serve`.
"""
