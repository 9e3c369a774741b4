"""The composition root: builds the adapters the settings ask for.

No other module reads settings to decide which implementation to use.
"""

from __future__ import annotations

from keystone_nexus.aws import AwsOptions
from keystone_nexus.config import AwsSettings, Settings
from keystone_nexus.registry.cache import CachedRegistry
from keystone_nexus.registry.glue import GlueRegistry
from keystone_nexus.registry.local import LocalRegistry


def aws_options(aws: AwsSettings) -> AwsOptions:
    return AwsOptions(
        region=aws.region,
        endpoint_url=aws.endpoint_url,
        connect_timeout_s=aws.connect_timeout_s,
        read_timeout_s=aws.read_timeout_s,
    )


async def open_registry(settings: Settings) -> CachedRegistry:
    """The configured schema registry behind its TTL cache."""
    reg = settings.registry
    if reg.kind == "glue":
        glue = await GlueRegistry.open(aws_options(settings.aws), reg.registry_name)
        await glue.ensure_registry()
        return CachedRegistry(glue, ttl_s=reg.cache_ttl_s, max_entries=reg.cache_max_entries)
    local = LocalRegistry(reg.local_path)
    return CachedRegistry(local, ttl_s=reg.cache_ttl_s, max_entries=reg.cache_max_entries)
