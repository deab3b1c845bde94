"""Producer: MLMD's write API turned into immutable ops appended to the log."""
