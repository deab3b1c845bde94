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

# MySQL / MariaDB. MLMD declares ids and int values INT; mlmd-log's ids (lease blocks, derived type ids)
# and int64 property values need 64 bits, so these columns are BIGINT here (ml-metadata reads them as int64).
_MYSQL_PROPERTY = (
    "`name` VARCHAR(255) NOT NULL, `is_custom_property` TINYINT(1) NOT NULL, `int_value` BIGINT, "
    "`double_value` DOUBLE, `string_value` MEDIUMTEXT, `byte_value` MEDIUMBLOB, `proto_value` MEDIUMBLOB, "
    "`bool_value` TINYINT(1)"
)
_MYSQL_TIMES = (
    "`create_time_since_epoch` BIGINT NOT NULL DEFAULT 0, `last_update_time_since_epoch` BIGINT NOT NULL DEFAULT 0"
)


def _mysql_property_table(kind: str) -> str:
    low = kind.lower()
    return (
        f"CREATE TABLE `{kind}Property` (`{low}_id` BIGINT NOT NULL, {_MYSQL_PROPERTY}, "
        f"PRIMARY KEY (`{low}_id`, `name`, `is_custom_property`), "
        f"KEY `idx_{low}_property_int` (`name`, `is_custom_property`, `int_value`), "
        f"KEY `idx_{low}_property_double` (`name`, `is_custom_property`, `double_value`), "
        f"KEY `idx_{low}_property_string` (`name`, `is_custom_property`, `string_value`(255)))"
    )


def _mysql_node_table(kind: str, columns: str) -> str:
    low = kind.lower()
    return (
        f"CREATE TABLE `{kind}` (`id` BIGINT NOT NULL AUTO_INCREMENT, `type_id` BIGINT NOT NULL, {columns}, "
        f"`external_id` VARCHAR(255), {_MYSQL_TIMES}, PRIMARY KEY (`id`), UNIQUE KEY (`external_id`), "
        f"UNIQUE KEY (`type_id`, `name`), KEY `idx_{low}_create_time_since_epoch` (`create_time_since_epoch`), "
        f"KEY `idx_{low}_last_update_time_since_epoch` (`last_update_time_since_epoch`), "
        f"KEY `idx_{low}_external_id` (`external_id`)"
        + (", KEY `idx_artifact_uri` (`uri`(255)))" if kind == "Artifact" else ")")
    )


MYSQL_TABLES: Final[tuple[str, ...]] = (
    "CREATE TABLE `Type` (`id` BIGINT NOT NULL AUTO_INCREMENT, `name` VARCHAR(255) NOT NULL, "
    "`version` VARCHAR(255), `type_kind` TINYINT(1) NOT NULL, `description` TEXT, `input_type` TEXT, "
    "`output_type` TEXT, `external_id` VARCHAR(255), PRIMARY KEY (`id`), UNIQUE KEY (`external_id`), "
    "KEY `idx_type_name` (`name`), KEY `idx_type_external_id` (`external_id`))",
    "CREATE TABLE `TypeProperty` (`type_id` BIGINT NOT NULL, `name` VARCHAR(255) NOT NULL, `data_type` INT, "
    "PRIMARY KEY (`type_id`, `name`))",
    "CREATE TABLE `ParentType` (`type_id` BIGINT NOT NULL, `parent_type_id` BIGINT NOT NULL, "
    "PRIMARY KEY (`type_id`, `parent_type_id`))",
    _mysql_node_table("Artifact", "`uri` TEXT, `state` INT, `name` VARCHAR(255)"),
    _mysql_property_table("Artifact"),
    _mysql_node_table("Execution", "`last_known_state` INT, `name` VARCHAR(255)"),
    _mysql_property_table("Execution"),
    _mysql_node_table("Context", "`name` VARCHAR(255) NOT NULL"),
    _mysql_property_table("Context"),
    "CREATE TABLE `Event` (`id` BIGINT NOT NULL AUTO_INCREMENT, `artifact_id` BIGINT NOT NULL, "
    "`execution_id` BIGINT NOT NULL, `type` INT NOT NULL, `milliseconds_since_epoch` BIGINT, PRIMARY KEY (`id`), "
    "UNIQUE KEY `UniqueEvent` (`artifact_id`, `execution_id`, `type`), "
    "KEY `idx_event_execution_id` (`execution_id`))",
    "CREATE TABLE `EventPath` (`event_id` BIGINT NOT NULL, `is_index_step` TINYINT(1) NOT NULL, "
    "`step_index` INT, `step_key` TEXT, KEY `idx_eventpath_event_id` (`event_id`))",
    "CREATE TABLE `MLMDEnv` (`schema_version` INT NOT NULL, PRIMARY KEY (`schema_version`))",
    "CREATE TABLE `ParentContext` (`context_id` BIGINT NOT NULL, `parent_context_id` BIGINT NOT NULL, "
    "PRIMARY KEY (`context_id`, `parent_context_id`), "
    "KEY `idx_parentcontext_parent_context_id` (`parent_context_id`))",
    "CREATE TABLE `Association` (`id` BIGINT NOT NULL AUTO_INCREMENT, `context_id` BIGINT NOT NULL, "
    "`execution_id` BIGINT NOT NULL, PRIMARY KEY (`id`), UNIQUE KEY (`context_id`, `execution_id`))",
    "CREATE TABLE `Attribution` (`id` BIGINT NOT NULL AUTO_INCREMENT, `context_id` BIGINT NOT NULL, "
    "`artifact_id` BIGINT NOT NULL, PRIMARY KEY (`id`), UNIQUE KEY (`context_id`, `artifact_id`))",
)
