"""Config loading and schema validation."""

from more_ie.config.validate import (
    SCHEMA_PATH,
    ConfigError,
    check_local_path,
    load_config,
    missing_local_paths,
    retrieval_kc,
    validate_config,
)

__all__ = [
    "SCHEMA_PATH",
    "ConfigError",
    "check_local_path",
    "load_config",
    "missing_local_paths",
    "retrieval_kc",
    "validate_config",
]
