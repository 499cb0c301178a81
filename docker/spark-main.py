"""`streamwatch` as a Python file, for spark-submit in Kubernetes cluster mode.

spark-submit runs a primary resource as Python only when its name ends in ``.py``; the
console script /opt/venv/bin/streamwatch does not, so spark-submit would take it for a
JAR ("Cannot load main class from JAR"). The spark-operator's SparkApplication points
mainApplicationFile here instead.
"""

import sys

from streamwatch.cli import main

sys.exit(main())
