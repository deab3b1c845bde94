"""``python -m mlmd_log.grpc --log URL --db PATH --port N``: run the server as a process."""

import sys

from mlmd_log.grpc.server import main

sys.exit(main())
