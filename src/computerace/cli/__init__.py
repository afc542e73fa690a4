"""The `computerace` command line (typer). Heavy libraries are imported inside commands."""
