"""Packaging and deployment: runs on a developer's laptop or in CI, never imports pyspark.

* :mod:`.packaging`: the four artifacts (wheel, Lambda zip, Glue script, Glue pins);
* :mod:`.pins`: ``glue-requirements.txt``, the exact versions the Glue job installs;
* :mod:`.wheel`: where the wheel comes from (a checkout, or the installed distribution) and
  its deterministic writing, so an installed wheel can rebuild itself byte for byte;
* :mod:`.stack`: ``deploy`` and ``destroy`` of the CloudFormation stack;
* :mod:`.aws`, :mod:`.buckets`, :mod:`.cloudformation`: the AWS calls they make.

``template.yaml`` and ``scripts/`` are package data, so an installed wheel can deploy itself.
"""

from reviews_etl.deploy.packaging import Artifact, Artifacts, build_artifacts
from reviews_etl.deploy.stack import (
    DEFAULT_GLUE_VERSION,
    GLUE_VERSIONS,
    DeployResult,
    DestroyResult,
    deploy,
    destroy,
)

__all__ = [
    "DEFAULT_GLUE_VERSION",
    "GLUE_VERSIONS",
    "Artifact",
    "Artifacts",
    "DeployResult",
    "DestroyResult",
    "build_artifacts",
    "deploy",
    "destroy",
]
