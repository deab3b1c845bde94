"""MLMD's schema version 10 for SQLite: the tables, indexes and seed rows ml-metadata 1.14-1.17 create.

``mlmd-log export`` writes a store in this shape so that ml-metadata opens it as its own. The statements
state MLMD's layout (table and column names, keys, the preloaded simple types); ml-metadata checks
``MLMDEnv.schema_version`` when it opens the file.
"""

from __future__ import annotations

from typing import Final

from mlmd_log.ids import SIMPLE_TYPES

SCHEMA_VERSION: Final = 10

_PROPERTY_COLUMNS = (
    "`name` VARCHAR(255) NOT NULL, `is_custom_property` TINYINT(1) NOT NULL, `int_value` INT, "
    "`double_value` DOUBLE, `string_value` TEXT, `byte_value` BLOB, `proto_value` BLOB, `bool_value` BOOLEAN"
)
_NODE_TIMES = (
    "`create_time_since_epoch` INT NOT NULL DEFAULT 0, `last_update_time_since_epoch` INT NOT NULL DEFAULT 0"
)

SQLITE_TABLES: Final[tuple[str, ...]] = (
    "CREATE TABLE `Type` (`id` INTEGER PRIMARY KEY AUTOINCREMENT, `name` VARCHAR(255) NOT NULL, "
    "`version` VARCHAR(255), `type_kind` TINYINT(1) NOT NULL, `description` TEXT, `input_type` TEXT, "
    "`output_type` TEXT, `external_id` VARCHAR(255) UNIQUE)",
    "CREATE TABLE `TypeProperty` (`type_id` INT NOT NULL, `name` VARCHAR(255) NOT NULL, `data_type` INT NULL, "
    "PRIMARY KEY (`type_id`, `name`))",
    "CREATE TABLE `ParentType` (`type_id` INT NOT NULL, `parent_type_id` INT NOT NULL, "
    "PRIMARY KEY (`type_id`, `parent_type_id`))",
    "CREATE TABLE `Artifact` (`id` INTEGER PRIMARY KEY AUTOINCREMENT, `type_id` INT NOT NULL, `uri` TEXT, "
    "`state` INT, `name` VARCHAR(255), `external_id` VARCHAR(255) UNIQUE, " + _NODE_TIMES
    + ", UNIQUE(`type_id`, `name`))",
    "CREATE TABLE `ArtifactProperty` (`artifact_id` INT NOT NULL, " + _PROPERTY_COLUMNS
    + ", PRIMARY KEY (`artifact_id`, `name`, `is_custom_property`))",
    "CREATE TABLE `Execution` (`id` INTEGER PRIMARY KEY AUTOINCREMENT, `type_id` INT NOT NULL, "
    "`last_known_state` INT, `name` VARCHAR(255), `external_id` VARCHAR(255) UNIQUE, " + _NODE_TIMES
    + ", UNIQUE(`type_id`, `name`))",
    "CREATE TABLE `ExecutionProperty` (`execution_id` INT NOT NULL, " + _PROPERTY_COLUMNS
    + ", PRIMARY KEY (`execution_id`, `name`, `is_custom_property`))",
    "CREATE TABLE `Event` (`id` INTEGER PRIMARY KEY AUTOINCREMENT, `artifact_id` INT NOT NULL, "
    "`execution_id` INT NOT NULL, `type` INT NOT NULL, `milliseconds_since_epoch` INT, "
    "UNIQUE(`artifact_id`, `execution_id`, `type`))",
    "CREATE TABLE `EventPath` (`event_id` INT NOT NULL, `is_index_step` TINYINT(1) NOT NULL, "
    "`step_index` INT, `step_key` TEXT)",
    "CREATE TABLE `MLMDEnv` (`schema_version` INTEGER PRIMARY KEY)",
    "CREATE TABLE `Context` (`id` INTEGER PRIMARY KEY AUTOINCREMENT, `type_id` INT NOT NULL, "
    "`name` VARCHAR(255) NOT NULL, `external_id` VARCHAR(255) UNIQUE, " + _NODE_TIMES
    + ", UNIQUE(`type_id`, `name`))",
    "CREATE TABLE `ContextProperty` (`context_id` INT NOT NULL, " + _PROPERTY_COLUMNS
    + ", PRIMARY KEY (`context_id`, `name`, `is_custom_property`))",
    "CREATE TABLE `ParentContext` (`context_id` INT NOT NULL, `parent_context_id` INT NOT NULL, "
    "PRIMARY KEY (`context_id`, `parent_context_id`))",
    "CREATE TABLE `Association` (`id` INTEGER PRIMARY KEY AUTOINCREMENT, `context_id` INT NOT NULL, "
    "`execution_id` INT NOT NULL, UNIQUE(`context_id`, `execution_id`))",
    "CREATE TABLE `Attribution` (`id` INTEGER PRIMARY KEY AUTOINCREMENT, `context_id` INT NOT NULL, "
    "`artifact_id` INT NOT NULL, UNIQUE(`context_id`, `artifact_id`))",
)

#: (index name, table, columns, partial-index condition or "").
_INDEXES: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("idx_artifact_uri", "Artifact", "`uri`", ""),
    ("idx_artifact_create_time_since_epoch", "Artifact", "`create_time_since_epoch`", ""),
    ("idx_artifact_last_update_time_since_epoch", "Artifact", "`last_update_time_since_epoch`", ""),
    ("idx_event_execution_id", "Event", "`execution_id`", ""),
    ("idx_parentcontext_parent_context_id", "ParentContext", "`parent_context_id`", ""),
    ("idx_type_name", "Type", "`name`", ""),
    ("idx_execution_create_time_since_epoch", "Execution", "`create_time_since_epoch`", ""),
    ("idx_execution_last_update_time_since_epoch", "Execution", "`last_update_time_since_epoch`", ""),
    ("idx_context_create_time_since_epoch", "Context", "`create_time_since_epoch`", ""),
    ("idx_context_last_update_time_since_epoch", "Context", "`last_update_time_since_epoch`", ""),
    ("idx_eventpath_event_id", "EventPath", "`event_id`", ""),
    *(
        (f"idx_{kind.lower()}_property_{short}", f"{kind}Property", f"`name`, `is_custom_property`, `{short}_value`",
         f"`{short}_value` IS NOT NULL")
        for kind in ("Artifact", "Execution", "Context") for short in ("int", "double", "string")
    ),
    ("idx_type_external_id", "Type", "`external_id`", ""),
    ("idx_artifact_external_id", "Artifact", "`external_id`", ""),
    ("idx_execution_external_id", "Execution", "`external_id`", ""),
    ("idx_context_external_id", "Context", "`external_id`", ""),
)

SQLITE_INDEXES: Final[tuple[str, ...]] = tuple(
    f"CREATE INDEX `{name}` ON `{table}`({columns})" + (f" WHERE {where}" if where else "")
    for name, table, columns, where in _INDEXES
)

#: MLMD's Type.type_kind per kind.
TYPE_KIND_CODE: Final = {"execution": 0, "artifact": 1, "context": 2}

#: Seed rows: the schema version and the preloaded simple types (id, name, type_kind).
SEED_TYPES: Final[tuple[tuple[int, str, int], ...]] = tuple(
    (type_id, name, TYPE_KIND_CODE[kind]) for type_id, kind, name, _ in SIMPLE_TYPES
)

#: (kind, base_type enum) -> the simple type's id that MLMD's ParentType row points at.
BASE_TYPE_PARENT: Final = {(kind, base): type_id for type_id, kind, _, base in SIMPLE_TYPES}
