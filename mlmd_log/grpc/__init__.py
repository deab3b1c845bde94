"""MLMD's gRPC service over a :class:`~mlmd_log.store.MetadataStore`: an application of the store.

:mod:`.server` starts and stops it (:func:`~mlmd_log.grpc.server.serve` in this
process, :func:`~mlmd_log.grpc.server.run` for ``mlmd-log serve`` and
``python -m mlmd_log.grpc``); :mod:`.reads` and :mod:`.writes` answer the
rpcs; :mod:`.common` holds the status mapping and request helpers they share;
:mod:`.store` gives each worker thread its own reader.
"""
