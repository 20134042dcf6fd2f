"""Home of LocalStack performance patches, applied before the infrastructure starts.

Candidates measured in /work/shared/MEASUREMENTS.md: jsonpath-ng rebuilding its ply parser on
every Step Functions JSONPath evaluation (~45% of LocalStack CPU per execution), and a boto3 client
created per Lambda task. Each patch goes in its own function, called from the hook below.
"""

import logging

from localstack.runtime import hooks

LOG = logging.getLogger(__name__)


@hooks.on_infra_start()
def paylab_perf_patches() -> None:
    """Apply Paylab's performance patches (none yet)."""
    LOG.debug("paylab perf patches: nothing to apply yet")
