"""One TOML file per supported board (package data; see bnnforge.finn_flow.boards)."""
