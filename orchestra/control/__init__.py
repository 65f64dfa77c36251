"""The control plane: a running stack answers `ps`, `logs`, `restart`, `stop`, `start` and
`down` over a unix socket (DESIGN §5). `paths` says where a project's socket lives, `protocol`
what is said on it, `server` serves it from the runtime's event loop, `client` asks it from
another process.
"""
