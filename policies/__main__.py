"""The temporal-workers policy pack (`pulumi preview --policy-pack policies`)."""

from pulumi_policy import EnforcementLevel, PolicyPack
from temporal_policies.config import PACK_NAME
from temporal_policies.pack import policies

PolicyPack(name=PACK_NAME, policies=policies(), enforcement_level=EnforcementLevel.ADVISORY)
