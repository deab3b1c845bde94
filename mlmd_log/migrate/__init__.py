"""Moving MLMD stores in and out: ``mlmd-log import`` (an MLMD schema-10 store becomes ops on the log, ids
and times kept) and ``mlmd-log export`` (the state at a log position becomes an MLMD schema-10 store)."""
